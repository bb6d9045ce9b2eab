import { generateKeyPair, X509Certificate } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type AddressInfo, type Server } from 'node:net';
import { promisify } from 'node:util';
import forge from 'node-forge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TetherError } from '../protocol/index.js';
import { caPin } from './pin.js';
import { fetchPinnedCa } from './pinned-ca.js';

// channel/ may not import backend/pki, so these tests make their own small CA with forge, as the backend does.

interface KeyPair {
  publicKeyPem: string;
  privateKeyPem: string;
}
interface Issued {
  certPem: string;
  keyPem: string;
}

async function rsaKeyPair(): Promise<KeyPair> {
  const { publicKey, privateKey } = await promisify(generateKeyPair)('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}

let serial = 1;
function certificate(options: {
  subject: string;
  subjectKey: KeyPair;
  issuer: forge.pki.CertificateField[] | 'self';
  signingKey: KeyPair;
  extensions: object[];
}): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(options.subjectKey.publicKeyPem);
  cert.serialNumber = (serial++).toString(16).padStart(2, '0');
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  const subject = [{ name: 'commonName', value: options.subject }];
  cert.setSubject(subject);
  cert.setIssuer(options.issuer === 'self' ? subject : options.issuer);
  cert.setExtensions(options.extensions);
  cert.sign(forge.pki.privateKeyFromPem(options.signingKey.privateKeyPem), forge.md.sha256.create());
  return cert;
}
const toPem = (cert: forge.pki.Certificate): string => forge.pki.certificateToPem(cert).replace(/\r\n/g, '\n');

let ca: Issued;
let pin: string;
let serverLeaf: Issued;
let deviceLeaf: Issued;
let forgedLeaf: Issued;
let otherCaPin: string;

beforeAll(async () => {
  const [caKey, serverKey, deviceKey, attackerKey] = await Promise.all([rsaKeyPair(), rsaKeyPair(), rsaKeyPair(), rsaKeyPair()]);
  const caCert = certificate({
    subject: 'Test CA',
    subjectKey: caKey,
    issuer: 'self',
    signingKey: caKey,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, critical: true },
    ],
  });
  ca = { certPem: toPem(caCert), keyPem: caKey.privateKeyPem };
  pin = caPin(ca.certPem);
  const issueLeaf = (key: KeyPair, signingKey: KeyPair, eku: object): Issued => ({
    certPem: toPem(
      certificate({
        subject: 'tether-backend',
        subjectKey: key,
        issuer: caCert.subject.attributes,
        signingKey,
        extensions: [
          { name: 'basicConstraints', cA: false },
          { name: 'extKeyUsage', ...eku },
          { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
        ],
      }),
    ),
    keyPem: key.privateKeyPem,
  });
  serverLeaf = issueLeaf(serverKey, caKey, { serverAuth: true });
  deviceLeaf = issueLeaf(deviceKey, caKey, { clientAuth: true });
  // Names the real CA as its issuer, but the attacker signed it.
  forgedLeaf = issueLeaf(attackerKey, attackerKey, { serverAuth: true });
  otherCaPin = caPin(
    toPem(certificate({ subject: 'Other CA', subjectKey: attackerKey, issuer: 'self', signingKey: attackerKey, extensions: [] })),
  );
});

const servers: Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

async function listen(server: Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** An HTTPS server serving `chain`, recording TCP connections, SNI names and HTTP requests. */
async function httpsServer(chain: string, keyPem: string): Promise<{ url: string; port: number; connections: () => number; servernames: string[]; requests: () => number }> {
  let connections = 0;
  let requests = 0;
  const servernames: string[] = [];
  const server = createHttpsServer(
    {
      cert: chain,
      key: keyPem,
      SNICallback: (servername, callback) => {
        servernames.push(servername);
        callback(null, undefined);
      },
    },
    (_req, res) => {
      requests++;
      res.end('hello');
    },
  );
  server.on('connection', () => connections++);
  const port = await listen(server);
  return { url: `https://127.0.0.1:${port}`, port, connections: () => connections, servernames, requests: () => requests };
}

async function failure(promise: Promise<unknown>): Promise<TetherError> {
  const error: unknown = await promise.then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  );
  if (!(error instanceof TetherError)) throw error;
  return error;
}

describe('fetchPinnedCa', () => {
  it('returns the pinned CA as PEM from a backend that serves leaf then CA, sending no request', async () => {
    const backend = await httpsServer(serverLeaf.certPem + ca.certPem, serverLeaf.keyPem);
    const caPem = await fetchPinnedCa(backend.url, pin);
    expect(caPem).toBe(ca.certPem);
    expect(new X509Certificate(caPem).ca).toBe(true);
    expect(backend.connections()).toBe(1);
    expect(backend.servernames).toEqual([]);
    expect(backend.requests()).toBe(0);
  });

  it('sends the host name as SNI and accepts URLs with a path, and wss://', async () => {
    const backend = await httpsServer(serverLeaf.certPem + ca.certPem, serverLeaf.keyPem);
    expect(await fetchPinnedCa(`https://localhost:${backend.port}/some/path?x=1`, pin)).toBe(ca.certPem);
    expect(backend.servernames).toEqual(['localhost']);
    expect(await fetchPinnedCa(`wss://127.0.0.1:${backend.port}/v1/agent/control`, pin)).toBe(ca.certPem);
  });

  it('fails with CA_PIN_MISMATCH, naming the pin it saw, when the pin is another CA', async () => {
    const backend = await httpsServer(serverLeaf.certPem + ca.certPem, serverLeaf.keyPem);
    const error = await failure(fetchPinnedCa(backend.url, otherCaPin));
    expect(error.code).toBe('CA_PIN_MISMATCH');
    expect(error.message).toContain(pin);
    expect(error.message).toContain(otherCaPin);
    expect(backend.requests()).toBe(0);
  });

  it('fails with CA_PIN_MISMATCH when the backend serves its certificate without the CA', async () => {
    const backend = await httpsServer(serverLeaf.certPem, serverLeaf.keyPem);
    const error = await failure(fetchPinnedCa(backend.url, pin));
    expect(error.code).toBe('CA_PIN_MISMATCH');
    expect(error.message).toMatch(/serves its CA certificate after its own/);
  });

  it('fails with CA_PIN_MISMATCH when the certificate names the pinned CA as issuer but another key signed it', async () => {
    const backend = await httpsServer(forgedLeaf.certPem + ca.certPem, forgedLeaf.keyPem);
    const error = await failure(fetchPinnedCa(backend.url, pin));
    expect(error.code).toBe('CA_PIN_MISMATCH');
    expect(error.message).toMatch(/not signed by the CA/);
  });

  it('fails with CA_PIN_MISMATCH when the server presents a device (client-only) certificate of the same CA', async () => {
    const impostor = await httpsServer(deviceLeaf.certPem + ca.certPem, deviceLeaf.keyPem);
    const error = await failure(fetchPinnedCa(impostor.url, pin));
    expect(error.code).toBe('CA_PIN_MISMATCH');
    expect(error.message).toMatch(/not a TLS server certificate/);
  });

  it('fails with BACKEND_UNREACHABLE when nothing listens on the port', async () => {
    const server = createTcpServer();
    const port = await listen(server);
    await new Promise((resolve) => server.close(resolve));
    servers.pop();
    const error = await failure(fetchPinnedCa(`https://127.0.0.1:${port}`, pin));
    expect(error.code).toBe('BACKEND_UNREACHABLE');
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(error.cause).toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('fails with BACKEND_UNREACHABLE when the TLS handshake does not finish in time', async () => {
    // Reads and ignores: never answers the ClientHello.
    const silent = createTcpServer((socket) => socket.resume());
    const port = await listen(silent);
    const started = Date.now();
    const error = await failure(fetchPinnedCa(`https://127.0.0.1:${port}`, pin, 200));
    expect(error.code).toBe('BACKEND_UNREACHABLE');
    expect(error.message).toMatch(/within 200 ms/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('fails with BACKEND_UNREACHABLE when the port speaks plain HTTP', async () => {
    const port = await listen(createHttpServer((_req, res) => res.end('plain')));
    const error = await failure(fetchPinnedCa(`https://127.0.0.1:${port}`, pin));
    expect(error.code).toBe('BACKEND_UNREACHABLE');
  });

  it('fails with BAD_REQUEST for a malformed URL or pin, before connecting', async () => {
    for (const url of ['not a url', 'http://127.0.0.1:1', 'ftp://backend.example', 'https://']) {
      expect((await failure(fetchPinnedCa(url, pin))).code, url).toBe('BAD_REQUEST');
    }
    for (const bad of ['', pin.toUpperCase(), pin.slice('sha256:'.length), `${pin}0`, 'sha1:abcd', `sha256:${'g'.repeat(64)}`]) {
      expect((await failure(fetchPinnedCa('https://127.0.0.1:1', bad))).code, bad).toBe('BAD_REQUEST');
    }
  });
});
