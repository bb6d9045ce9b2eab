import { BlockList, isIPv4, isIPv6, type Socket } from 'node:net';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { TetherError } from '../../protocol/index.js';
import { parseProxyHeader, type ProxySource } from './proxy-header.js';

/** A trusted proxy must send its whole header within this time (HAProxy sends it at once). */
const HEADER_TIMEOUT_MS = 10_000;

/**
 * Parses `--proxy-protocol-from`: addresses and CIDRs, comma-separated. Throws BAD_REQUEST
 * naming the entry that is neither.
 */
export function trustedProxies(list: string): BlockList {
  const trusted = new BlockList();
  const entries = list.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
  if (entries.length === 0) throw new TetherError('BAD_REQUEST', '--proxy-protocol-from needs at least one address or CIDR');
  for (const entry of entries) {
    const [address = '', prefix, extra] = entry.split('/');
    const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : null;
    const bits = prefix === undefined ? null : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
    if (!family || extra !== undefined || Number.isNaN(bits) || (bits !== null && bits > (family === 'ipv4' ? 32 : 128))) {
      throw new TetherError('BAD_REQUEST', `--proxy-protocol-from takes addresses and CIDRs (10.0.0.5, 10.0.0.0/24, fd00::/64), not ${JSON.stringify(entry)}`);
    }
    if (bits === null) trusted.addAddress(address, family);
    else trusted.addSubnet(address, bits, family);
  }
  return trusted;
}

/** Whether `address` (as a socket reports it; IPv4 may come IPv4-mapped on a dual-stack listener) is in `list`. */
export function isTrusted(list: BlockList, address: string | undefined): boolean {
  if (!address) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped) return list.check(mapped, 'ipv4') || list.check(address, 'ipv6');
  return list.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
}

/**
 * Makes `server` (Fastify's HTTPS server) read a PROXY protocol header (v2, or v1) before TLS on
 * every connection from a `trusted` address, and report the client address it carries as the
 * connection's `remoteAddress`/`remotePort`/`remoteFamily` — what request.ip, the login throttle,
 * the enrolment limiter, the audit log and the WebSocket gateways read. Connections from other
 * addresses are not parsed, so a client cannot claim an address. A trusted connection without a
 * valid header in time is closed and logged with PROXY_HEADER_INVALID.
 */
export function acceptProxyProtocol(server: TlsServer, options: { trusted: BlockList; log: Logger; headerTimeoutMs?: number }): void {
  const timeoutMs = options.headerTimeoutMs ?? HEADER_TIMEOUT_MS;
  // tls.Server wraps each accepted socket in its `connection` listener; ours runs first and hands it on.
  const startTls = server.listeners('connection') as Array<(socket: Socket) => void>;
  server.removeAllListeners('connection');
  // Node has no public link from a TLSSocket to the socket under it; both report the same TCP endpoints.
  const sources = new Map<string, ProxySource>();
  const handOn = (socket: Socket, source: ProxySource | null) => {
    if (source) {
      const key = endpoints(socket);
      sources.set(key, source);
      socket.once('close', () => sources.delete(key));
    }
    for (const listener of startTls) listener.call(server, socket);
  };
  server.prependListener('secureConnection', (tls: TLSSocket) => {
    const key = endpoints(tls);
    const source = sources.get(key);
    if (!source) return;
    sources.delete(key);
    Object.defineProperties(tls, {
      remoteAddress: { value: source.address, configurable: true },
      remotePort: { value: source.port, configurable: true },
      remoteFamily: { value: source.family, configurable: true },
    });
  });
  server.on('connection', (socket: Socket) => {
    if (!isTrusted(options.trusted, socket.remoteAddress)) {
      handOn(socket, null);
      return;
    }
    readHeader(socket, timeoutMs).then(
      (source) => handOn(socket, source),
      (err: unknown) => {
        const code = err instanceof TetherError ? err.code : 'PROXY_HEADER_INVALID';
        options.log.warn({ code, peer: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`, reason: err instanceof Error ? err.message : String(err) }, 'PROXY protocol header refused; connection closed');
        socket.destroy();
      },
    );
  });
}

function endpoints(socket: Socket): string {
  return `${socket.remoteAddress ?? ''}|${socket.remotePort ?? ''}|${socket.localAddress ?? ''}|${socket.localPort ?? ''}`;
}

/**
 * Reads the header off `socket` and leaves what follows it (the TLS ClientHello, when it came in
 * the same packet) unread on the socket, paused, for TLS to take.
 */
function readHeader(socket: Socket, timeoutMs: number): Promise<ProxySource | null> {
  return new Promise((resolve, reject) => {
    let received: Buffer = Buffer.alloc(0);
    const finish = (result: { source: ProxySource | null } | { error: Error }) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      if ('error' in result) reject(result.error);
      else resolve(result.source);
    };
    const onData = (chunk: Buffer) => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      try {
        const parsed = parseProxyHeader(received);
        if (!parsed.done) return;
        socket.pause();
        if (parsed.length < received.length) socket.unshift(received.subarray(parsed.length));
        finish({ source: parsed.source });
      } catch (err) {
        finish({ error: err instanceof Error ? err : new Error(String(err)) });
      }
    };
    const onError = (err: Error) => finish({ error: new TetherError('PROXY_HEADER_INVALID', `connection failed before its PROXY header was read: ${err.message}`) });
    const onClose = () => finish({ error: new TetherError('PROXY_HEADER_INVALID', 'connection closed before its PROXY header was complete') });
    const timer = setTimeout(() => finish({ error: new TetherError('PROXY_HEADER_INVALID', `no complete PROXY header within ${timeoutMs} ms`) }), timeoutMs);
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
  });
}
