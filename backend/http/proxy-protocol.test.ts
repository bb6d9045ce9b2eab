import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { connect as connectTcp, createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TetherError } from '../../protocol/index.js';
import { loadOrCreatePki, type Pki } from '../pki/store.js';
import { PROXY_V2_SIGNATURE } from './proxy-header.js';
import { acceptProxyProtocol, isTrusted, trustedProxies } from './proxy-protocol.js';

/** HAProxy's send-proxy-v2 header for a TCP/IPv4 client. */
function v2Header(source: [number, number, number, number], sourcePort: number, command: 'PROXY' | 'LOCAL' = 'PROXY'): Buffer {
  const rest = Buffer.alloc(16);
  rest.writeUInt8(command === 'PROXY' ? 0x21 : 0x20, 0);
  rest.writeUInt8(0x11, 1);
  rest.writeUInt16BE(12, 2);
  Buffer.from(source).copy(rest, 4);
  Buffer.from([127, 0, 0, 1]).copy(rest, 8);
  rest.writeUInt16BE(sourcePort, 12);
  rest.writeUInt16BE(8443, 14);
  return Buffer.concat([PROXY_V2_SIGNATURE, rest]);
}

let pki: Pki;
let home = '';
let server: HttpsServer | undefined;
const logged: Array<Record<string, unknown>> = [];
const log = pino(new Writable({
  write(chunk: Buffer, _encoding, done) {
    logged.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
    done();
  },
}));

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'tether-proxy-protocol-'));
  pki = await loadOrCreatePki(home, ['localhost']);
});
afterAll(() => rmSync(home, { recursive: true, force: true }));
afterEach(async () => {
  logged.length = 0;
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** An HTTPS server answering every request with the client address it sees, PROXY protocol on from `trusted`. */
async function listen(trusted: string): Promise<number> {
  const s = createHttpsServer({ key: pki.server.keyPem, cert: pki.server.certPem }, (req, res) => {
    res.end(`${req.socket.remoteAddress ?? '?'} ${req.socket.remotePort ?? '?'} ${req.socket.remoteFamily ?? '?'}`);
  });
  acceptProxyProtocol(s, { trusted: trustedProxies(trusted), log, headerTimeoutMs: 1_000 });
  server = s;
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  return (s.address() as AddressInfo).port;
}

function tcp(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp(port, '127.0.0.1', () => resolve(socket));
    socket.setNoDelay(true);
    socket.once('error', reject);
  });
}

/** GET / over TLS on `socket` (a plain TCP socket that may already have sent a header); the body. */
function getOver(socket: Socket | (() => TLSSocket)): Promise<string> {
  return new Promise((resolve, reject) => {
    const tls = typeof socket === 'function' ? socket() : connectTls({ socket, ca: pki.ca.certPem, servername: 'localhost' });
    let text = '';
    let secure = false;
    tls.once('secureConnect', () => (secure = true));
    tls.setEncoding('utf8');
    tls.on('data', (chunk: string) => (text += chunk));
    tls.on('close', () => (secure ? resolve(text.slice(text.indexOf('\r\n\r\n') + 4)) : reject(new Error('closed before the TLS handshake'))));
    tls.on('error', reject);
    tls.setTimeout(5_000, () => tls.destroy(new Error('no answer in 5 s')));
    tls.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  });
}

/** Whether the server closed `socket` without a byte of answer. */
function closedSilently(socket: Socket): Promise<boolean> {
  return new Promise((resolve) => {
    let answered = false;
    socket.on('data', () => (answered = true));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(!answered));
  });
}

/**
 * What HAProxy does on one TCP segment: waits for the client's first bytes (the ClientHello) and
 * writes the header and them to the server in one write, then relays both ways.
 */
async function coalescingProxy(target: number, header: Buffer): Promise<{ port: number; server: TcpServer }> {
  const relay = createTcpServer((client) => {
    client.once('data', (hello: Buffer) => {
      client.pause();
      const upstream = connectTcp(target, '127.0.0.1', () => {
        upstream.setNoDelay(true);
        upstream.write(Buffer.concat([header, hello]));
        client.pipe(upstream).pipe(client);
        client.resume();
      });
      upstream.on('error', () => client.destroy());
    });
    client.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', () => resolve()));
  return { port: (relay.address() as AddressInfo).port, server: relay };
}

describe('acceptProxyProtocol', () => {
  it('from a trusted address, the client address of the v2 header is the remote address of the TLS connection', async () => {
    const port = await listen('127.0.0.1');
    const socket = await tcp(port);
    socket.write(v2Header([203, 0, 113, 7], 51_234));
    expect(await getOver(socket)).toBe('203.0.113.7 51234 IPv4');
  });

  it('takes the TLS ClientHello that came in the same packet as the header', async () => {
    const port = await listen('127.0.0.0/8');
    const proxy = await coalescingProxy(port, v2Header([198, 51, 100, 20], 4_000));
    try {
      const body = await getOver(() => connectTls({ host: '127.0.0.1', port: proxy.port, ca: pki.ca.certPem, servername: 'localhost' }));
      expect(body).toBe('198.51.100.20 4000 IPv4');
    } finally {
      proxy.server.close();
    }
  });

  it('waits for a header split across packets', async () => {
    const port = await listen('127.0.0.1');
    const socket = await tcp(port);
    const header = v2Header([192, 0, 2, 33], 1_234);
    for (const part of [header.subarray(0, 5), header.subarray(5, 14), header.subarray(14, 27), header.subarray(27)]) {
      socket.write(part);
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    expect(await getOver(socket)).toBe('192.0.2.33 1234 IPv4');
  });

  it('takes a v1 line too', async () => {
    const port = await listen('127.0.0.1');
    const socket = await tcp(port);
    socket.write('PROXY TCP6 2001:db8::7 ::1 40000 8443\r\n');
    expect(await getOver(socket)).toBe('2001:db8::7 40000 IPv6');
  });

  it('a LOCAL header (a health check) keeps the connection\'s own address', async () => {
    const port = await listen('127.0.0.1');
    const socket = await tcp(port);
    socket.write(v2Header([203, 0, 113, 7], 1, 'LOCAL'));
    expect(await getOver(socket)).toMatch(/^127\.0\.0\.1 \d+ IPv4$/);
  });

  it('does not parse connections from other addresses: a header from them is not taken, plain TLS works as before', async () => {
    const port = await listen('10.0.0.5,192.168.0.0/16');
    expect(await getOver(await tcp(port))).toMatch(/^127\.0\.0\.1 \d+ IPv4$/);
    const spoofer = await tcp(port);
    spoofer.write(v2Header([203, 0, 113, 7], 1));
    // The header reaches TLS as the ClientHello, which refuses it.
    await expect(getOver(spoofer)).rejects.toThrow();
    expect(logged.filter((e) => e.code === 'PROXY_HEADER_INVALID')).toEqual([]);
  });

  it('closes a trusted connection that starts with TLS instead of a header, logging PROXY_HEADER_INVALID', async () => {
    const port = await listen('127.0.0.1');
    await expect(getOver(await tcp(port))).rejects.toThrow();
    expect(logged.find((e) => e.code === 'PROXY_HEADER_INVALID')).toMatchObject({ level: 40, msg: 'PROXY protocol header refused; connection closed', reason: expect.stringMatching(/signature/) });
  });

  it('closes a trusted connection whose header is malformed or does not come in time', async () => {
    const port = await listen('127.0.0.1');
    const malformed = await tcp(port);
    const header = v2Header([203, 0, 113, 7], 1);
    header.writeUInt8(0x13, 13); // TCP over an unknown family
    const closed = closedSilently(malformed);
    malformed.write(header);
    expect(await closed).toBe(true);

    const silent = await tcp(port);
    const started = Date.now();
    expect(await closedSilently(silent)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    const reasons = logged.filter((e) => e.code === 'PROXY_HEADER_INVALID').map((e) => String(e.reason));
    expect(reasons).toEqual([expect.stringMatching(/0x13/), expect.stringMatching(/within 1000 ms/)]);
  });
});

describe('trustedProxies', () => {
  it('takes addresses and CIDRs of both families; IPv4-mapped addresses match IPv4 rules', () => {
    const list = trustedProxies(' 10.0.0.5, 10.1.0.0/16 ,fd00::/64,::1');
    expect(isTrusted(list, '10.0.0.5')).toBe(true);
    expect(isTrusted(list, '10.0.0.6')).toBe(false);
    expect(isTrusted(list, '10.1.200.3')).toBe(true);
    expect(isTrusted(list, '::ffff:10.1.2.3')).toBe(true);
    expect(isTrusted(list, 'fd00::abcd')).toBe(true);
    expect(isTrusted(list, 'fd01::1')).toBe(false);
    expect(isTrusted(list, '::1')).toBe(true);
    expect(isTrusted(list, undefined)).toBe(false);
  });

  it.each(['', 'haproxy.internal', '10.0.0.0/33', '10.0.0.0/8/1', '10.0.0.1/x', 'fd00::/129'])('refuses %j with BAD_REQUEST', (entry) => {
    expect(() => trustedProxies(entry)).toThrow(TetherError);
    try {
      trustedProxies(entry);
    } catch (err) {
      expect((err as TetherError).code).toBe('BAD_REQUEST');
    }
  });
});
