import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ClientAuth, ControlMessage, ServerHello } from '../protocol/control.js';
import { PROTOCOL_VERSION } from '../protocol/version.js';
import { BACKEND_IDENTITY_CN, ClientHandshake, ServerHandshake, type ClientHandshakeOptions, type Established } from './handshake.js';
import { caPin } from './pin.js';
import { SecureSession } from './secure-session.js';
import { createTestCa, randomDeviceId, type TestCa, type TestCertifiedKey } from './test-pki.js';

const code = (c: string) => expect.objectContaining({ code: c });

let ca: TestCa;
let otherCa: TestCa;
let identity: TestCertifiedKey;
let deviceId: string;
let device: TestCertifiedKey;
let otherDevice: TestCertifiedKey;

beforeAll(async () => {
  [ca, otherCa] = await Promise.all([createTestCa(), createTestCa('Other CA')]);
  deviceId = randomDeviceId();
  [identity, device, otherDevice] = await Promise.all([
    ca.issue(BACKEND_IDENTITY_CN),
    ca.issue(deviceId),
    ca.issue(randomDeviceId()),
  ]);
});

function client(overrides: Partial<ClientHandshakeOptions> = {}): ClientHandshake {
  return new ClientHandshake({
    deviceId,
    deviceCertPem: device.certPem,
    deviceKeyPem: device.keyPem,
    caCertPem: ca.certPem,
    caPin: caPin(ca.certPem),
    ...overrides,
  });
}

function server(id: TestCertifiedKey = identity): ServerHandshake {
  return new ServerHandshake({ identityCertPem: id.certPem, identityKeyPem: id.keyPem, caCertPem: ca.certPem });
}

/** Runs hello and server_hello; returns what the client would send next. */
function firstHalf(c: ClientHandshake, s: ServerHandshake): { auth: ClientAuth; established: Established } {
  const { serverHello } = s.onHello(c.hello());
  return c.onServerHello(serverHello);
}

function serverHelloFor(c: ClientHandshake, s: ServerHandshake = server()): ServerHello {
  return s.onHello(c.hello()).serverHello;
}

function flipBase64(b64: string): string {
  const bytes = Buffer.from(b64, 'base64');
  bytes[10] = (bytes[10] ?? 0) ^ 0xff;
  return bytes.toString('base64');
}

describe('handshake', () => {
  it('establishes identical keys on both sides and identifies the device', () => {
    const c = client();
    const s = server();
    const hello = c.hello();
    expect(hello).toMatchObject({ type: 'hello', v: PROTOCOL_VERSION, deviceId });
    const { deviceId: announced, serverHello } = s.onHello(hello);
    expect(announced).toBe(deviceId);
    const { auth, established: clientSide } = c.onServerHello(serverHello);
    const serverSide = s.onClientAuth(auth);

    expect(serverSide.deviceId).toBe(deviceId);
    const x509 = new X509Certificate(device.certPem);
    expect(serverSide.certFingerprint256).toBe(x509.fingerprint256);
    expect(serverSide.certSerial).toBe(x509.serialNumber.toLowerCase());
    expect(serverSide.certSerial).toMatch(/^[0-9a-f]+$/);
    expect(serverSide.established.salt.equals(clientSide.salt)).toBe(true);
    expect(serverSide.established.keys).toEqual(clientSide.keys);
    expect(clientSide.keys.epoch).toBe(0);
    expect(clientSide.keys.c2sKey.equals(clientSide.keys.s2cKey)).toBe(false);
  });

  it('hands SecureSession keys that carry messages both ways', () => {
    const c = client();
    const s = server();
    const { auth, established: clientSide } = firstHalf(c, s);
    const serverSide = s.onClientAuth(auth).established;
    const got: ControlMessage[] = [];
    const sessions: Partial<Record<'client' | 'server', SecureSession>> = {};
    for (const [role, established] of [['client', clientSide], ['server', serverSide]] as const) {
      const other = role === 'client' ? 'server' : 'client';
      sessions[role] = new SecureSession({
        role,
        established,
        transport: { send: (f) => sessions[other]?.receive(f), close: () => undefined },
        onMessage: (m) => got.push(m),
        onClose: (e) => got.push({ type: 'evt', name: 'closed', data: e?.code }),
      });
    }
    sessions.server?.send({ type: 'welcome', deviceId, heartbeatMs: 30_000 });
    sessions.client?.send({ type: 'evt', name: 'hi', data: 1 });
    expect(got).toEqual([
      { type: 'welcome', deviceId, heartbeatMs: 30_000 },
      { type: 'evt', name: 'hi', data: 1 },
    ]);
  });

  it('derives fresh keys for every handshake', () => {
    const run = () => {
      const c = client();
      const s = server();
      return s.onClientAuth(firstHalf(c, s).auth).established.keys.c2sKey;
    };
    expect(run().equals(run())).toBe(false);
  });

  describe('agent checks the backend', () => {
    it('refuses a CA that does not match the pin with BACKEND_IDENTITY_INVALID', () => {
      const c = client({ caPin: caPin(otherCa.certPem) });
      expect(() => c.onServerHello(serverHelloFor(c))).toThrow(code('BACKEND_IDENTITY_INVALID'));
    });

    it('refuses an identity certificate from another CA with BACKEND_IDENTITY_INVALID', async () => {
      const foreign = await otherCa.issue(BACKEND_IDENTITY_CN);
      const c = client();
      expect(() => c.onServerHello(serverHelloFor(c, server(foreign)))).toThrow(code('BACKEND_IDENTITY_INVALID'));
    });

    it('refuses another device posing as the backend with BACKEND_IDENTITY_INVALID', () => {
      const c = client();
      expect(() => c.onServerHello(serverHelloFor(c, server(otherDevice)))).toThrow(code('BACKEND_IDENTITY_INVALID'));
    });

    it('refuses an expired identity certificate with BACKEND_IDENTITY_INVALID', () => {
      const c = client({ now: () => Date.now() + 2 * 365 * 86_400_000 });
      expect(() => c.onServerHello(serverHelloFor(c))).toThrow(code('BACKEND_IDENTITY_INVALID'));
    });

    it('refuses a tampered transcript signature with BAD_SIGNATURE', () => {
      const c = client();
      const hello = serverHelloFor(c);
      expect(() => c.onServerHello({ ...hello, signature: flipBase64(hello.signature) })).toThrow(code('BAD_SIGNATURE'));
    });

    it('refuses a swapped ephemeral key (man in the middle) with BAD_SIGNATURE', () => {
      const c = client();
      const hello = serverHelloFor(c);
      const other = serverHelloFor(client());
      expect(() => c.onServerHello({ ...hello, ephemeral: other.ephemeral })).toThrow(code('BAD_SIGNATURE'));
    });

    it('refuses another protocol version with PROTOCOL_VERSION', () => {
      const c = client();
      const hello = serverHelloFor(c);
      expect(() => c.onServerHello({ ...hello, v: PROTOCOL_VERSION + 1 })).toThrow(code('PROTOCOL_VERSION'));
    });

    it('refuses a malformed server_hello with HANDSHAKE_FAILED', () => {
      const c = client();
      const hello = serverHelloFor(c);
      expect(() => c.onServerHello({ ...hello, nonce: 'AAAA' })).toThrow(code('HANDSHAKE_FAILED'));
    });
  });

  describe('backend checks the agent', () => {
    it('refuses another protocol version with PROTOCOL_VERSION before parsing the rest', () => {
      expect(() => server().onHello(client({ version: PROTOCOL_VERSION + 1 }).hello())).toThrow(code('PROTOCOL_VERSION'));
      expect(() => server().onHello({ type: 'hello', v: 99, something: 'else' })).toThrow(code('PROTOCOL_VERSION'));
    });

    it.each([
      ['null', null],
      ['a string', 'hello'],
      ['an array', [1]],
      ['no version', { type: 'hello' }],
      ['a bad device id', { type: 'hello', v: PROTOCOL_VERSION, deviceId: 'x', ephemeral: 'A'.repeat(43) + '=', nonce: 'A'.repeat(43) + '=' }],
    ])('refuses %s as hello with HANDSHAKE_FAILED', (_name, raw) => {
      expect(() => server().onHello(raw)).toThrow(code('HANDSHAKE_FAILED'));
    });

    it('refuses a low-order ephemeral key with HANDSHAKE_FAILED', () => {
      const hello = { ...client().hello(), ephemeral: Buffer.alloc(32).toString('base64') };
      expect(() => server().onHello(hello)).toThrow(code('HANDSHAKE_FAILED'));
    });

    it('refuses the certificate of another device with CERT_SUBJECT_MISMATCH', () => {
      const c = client({ deviceCertPem: otherDevice.certPem, deviceKeyPem: otherDevice.keyPem });
      const s = server();
      expect(() => s.onClientAuth(firstHalf(c, s).auth)).toThrow(code('CERT_SUBJECT_MISMATCH'));
    });

    it('refuses the backend identity certificate as a device certificate with CERT_SUBJECT_MISMATCH', () => {
      const c = client({ deviceCertPem: identity.certPem, deviceKeyPem: identity.keyPem });
      const s = server();
      expect(() => s.onClientAuth(firstHalf(c, s).auth)).toThrow(code('CERT_SUBJECT_MISMATCH'));
    });

    it('refuses a signature by the wrong device key with BAD_SIGNATURE', () => {
      const c = client({ deviceKeyPem: otherDevice.keyPem });
      const s = server();
      expect(() => s.onClientAuth(firstHalf(c, s).auth)).toThrow(code('BAD_SIGNATURE'));
    });

    it('refuses a tampered client signature with BAD_SIGNATURE', () => {
      const c = client();
      const s = server();
      const { auth } = firstHalf(c, s);
      expect(() => s.onClientAuth({ ...auth, signature: flipBase64(auth.signature) })).toThrow(code('BAD_SIGNATURE'));
    });

    it('refuses a client_auth replayed into another handshake with BAD_SIGNATURE', () => {
      const c1 = client();
      const s1 = server();
      const { auth } = firstHalf(c1, s1);
      const c2 = client();
      const s2 = server();
      firstHalf(c2, s2);
      expect(() => s2.onClientAuth(auth)).toThrow(code('BAD_SIGNATURE'));
    });

    it('refuses a device certificate from another CA with CERT_INVALID', async () => {
      const foreign = await otherCa.issue(deviceId);
      const c = client({ deviceCertPem: foreign.certPem, deviceKeyPem: foreign.keyPem });
      const s = server();
      expect(() => s.onClientAuth(firstHalf(c, s).auth)).toThrow(code('CERT_INVALID'));
    });

    it('refuses an expired device certificate with CERT_INVALID', async () => {
      const day = 86_400_000;
      const expired = await ca.issue(deviceId, {
        keyPem: device.keyPem,
        notBefore: new Date(Date.now() - 10 * day),
        notAfter: new Date(Date.now() - day),
      });
      const c = client({ deviceCertPem: expired.certPem });
      const s = server();
      expect(() => s.onClientAuth(firstHalf(c, s).auth)).toThrow(code('CERT_INVALID'));
    });

    it('refuses the CA certificate itself with CERT_INVALID', () => {
      const c = client({ deviceCertPem: ca.certPem, deviceKeyPem: ca.keyPem });
      const s = server();
      expect(() => s.onClientAuth(firstHalf(c, s).auth)).toThrow(code('CERT_INVALID'));
    });

    it('refuses a malformed client_auth with HANDSHAKE_FAILED', () => {
      const c = client();
      const s = server();
      const { auth } = firstHalf(c, s);
      expect(() => s.onClientAuth({ ...auth, cert: 'not a pem' })).toThrow(code('HANDSHAKE_FAILED'));
    });
  });

  describe('order', () => {
    it('refuses client_auth before hello', () => {
      const c = client();
      const s = server();
      const { auth } = firstHalf(c, s);
      expect(() => server().onClientAuth(auth)).toThrow(code('HANDSHAKE_FAILED'));
      expect(() => server().onHello(auth)).toThrow(code('HANDSHAKE_FAILED'));
    });

    it('refuses a second hello and a second client_auth', () => {
      const c = client();
      const s = server();
      const hello = c.hello();
      const { serverHello } = s.onHello(hello);
      const { auth } = c.onServerHello(serverHello);
      s.onClientAuth(auth);
      expect(() => s.onClientAuth(auth)).toThrow(code('HANDSHAKE_FAILED'));
      expect(() => s.onHello(hello)).toThrow(code('HANDSHAKE_FAILED'));
    });

    it('refuses server_hello before hello, and twice', () => {
      const c = client();
      const serverHello = serverHelloFor(client());
      expect(() => c.onServerHello(serverHello)).toThrow(code('HANDSHAKE_FAILED'));
      const c2 = client();
      const hello2 = serverHelloFor(c2);
      c2.onServerHello(hello2);
      expect(() => c2.onServerHello(hello2)).toThrow(code('HANDSHAKE_FAILED'));
      expect(() => c2.hello()).toThrow(code('HANDSHAKE_FAILED'));
    });

    it('stays failed after an error', () => {
      const c = client();
      const s = server();
      const { auth } = firstHalf(c, s);
      expect(() => s.onClientAuth({ ...auth, signature: flipBase64(auth.signature) })).toThrow(code('BAD_SIGNATURE'));
      expect(() => s.onClientAuth(auth)).toThrow(code('HANDSHAKE_FAILED'));
    });
  });
});
