/**
 * A hand-driven device for the refusal tests: it enrols for real and speaks the real handshake
 * (channel/ code), but lets the test choose what goes on the wire afterwards.
 */
import WebSocket from 'ws';
import { ClientHandshake, type Established } from '../../channel/handshake.js';
import { createDeviceKeyAndCsr } from '../../agent/enrol/csr.js';
import { PROTOCOL_VERSION, RegisterResponse } from '../../protocol/index.js';
import { api, createToken, type Backend } from '../harness.js';

export interface Identity { deviceId: string; certPem: string; keyPem: string }

export async function enrolIdentity(backend: Backend, adminToken: string): Promise<Identity> {
  const { keyPem, csrPem } = await createDeviceKeyAndCsr();
  const res = await api(backend, 'POST', '/api/v1/agent/register', { body: { token: await createToken(backend, adminToken), csr: csrPem, name: 'rogue' } });
  const body = RegisterResponse.parse(res.body);
  return { deviceId: body.deviceId, certPem: body.certificate, keyPem };
}

export interface RawChannel {
  ws: WebSocket;
  /** Resolves with the close code and reason the backend sent. */
  closed: Promise<{ code: number; reason: string }>;
  nextText(): Promise<string>;
}

export async function openRaw(backend: Backend): Promise<RawChannel> {
  const ws = new WebSocket(new URL('/v1/agent/control', backend.url.replace('https:', 'wss:')).href, { ca: backend.caCertPem });
  const texts: string[] = [];
  const waiting: Array<(t: string) => void> = [];
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    const text = data.toString();
    const waiter = waiting.shift();
    if (waiter) waiter(text);
    else texts.push(text);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise<void>((ok, fail) => {
    ws.once('open', () => ok());
    ws.once('error', fail);
  });
  return {
    ws, closed,
    nextText: () => {
      const t = texts.shift();
      return t !== undefined ? Promise.resolve(t) : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

/**
 * Runs the handshake claiming `claimedId`, presenting `cert` and signing with `key`. With
 * matching values this is an honest device; the refusal tests mismatch them on purpose.
 */
export async function handshake(backend: Backend, claimedId: string, certPem: string, keyPem: string, version = PROTOCOL_VERSION): Promise<RawChannel & { established?: Established }> {
  const raw = await openRaw(backend);
  const client = new ClientHandshake({ deviceId: claimedId, deviceCertPem: certPem, deviceKeyPem: keyPem, caCertPem: backend.caCertPem, caPin: backend.caPin });
  raw.ws.send(JSON.stringify({ ...client.hello(), v: version }));
  const reply = await Promise.race([raw.nextText(), raw.closed.then(() => null)]);
  if (reply === null) return raw;
  const { auth, established } = client.onServerHello(JSON.parse(reply) as unknown);
  raw.ws.send(JSON.stringify(auth));
  return { ...raw, established };
}
