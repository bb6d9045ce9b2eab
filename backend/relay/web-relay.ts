import { request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { DeviceId, ERRORS, ForwardPort, TetherError, type ErrorCode, type User } from '../../protocol/index.js';
import type { DeviceAccess } from '../auth/device-access.js';
import { requireRole } from '../auth/request-auth.js';
import type { UserService } from '../auth/users.js';
import { errorCodeOf, type ForwardService } from '../forward/forward-service.js';
import type { DeviceSocket } from '../forward/device-socket.js';
import { RELAY_TOKEN, type RelayGrants } from './relay-grants.js';
import { requestHeadersForDevice, responseHeadersForBrowser } from './relay-headers.js';

export interface WebRelayDeps {
  forwards: ForwardService;
  grants: RelayGrants;
  users: Pick<UserService, 'authenticate'>;
  access: DeviceAccess;
  log: Logger;
  /** The device's answer must start within this long. */
  responseTimeoutMs?: number;
}

interface RelayTarget {
  deviceId: string;
  port: number;
  /** The grant token from the path; null when the URL has none (or a malformed one). */
  token: string | null;
  /** `/relay/<device>/<port>/<token>/` */
  prefix: string;
  /** The path on the device, from its root, with the query. */
  path: string;
}

const RELAY_PATH = /^\/relay\/([^/?#]+)\/(\d{1,5})(?:\/([^/?#]*))?(\/[^#]*)?$/;

/** `/relay/<device>/<port>/<token>/<path>` parsed, `redirect` when the token lacks its slash, null when the URL is not the relay's. */
export function relayTarget(url: string): RelayTarget | 'redirect' | null {
  if (!url.startsWith('/relay/')) return null;
  const query = url.includes('?') ? url.slice(url.indexOf('?')) : '';
  const match = RELAY_PATH.exec(url.split('?')[0] ?? '');
  if (!match) return null;
  const deviceId = DeviceId.safeParse(match[1]);
  const port = ForwardPort.safeParse(Number(match[2]));
  if (!deviceId.success || !port.success) return null;
  const token = match[3] !== undefined && RELAY_TOKEN.test(match[3]) ? match[3] : null;
  if (token !== null && match[4] === undefined) return 'redirect';
  const prefix = `/relay/${deviceId.data}/${port.data}/${token ?? ''}/`;
  return { deviceId: deviceId.data, port: port.data, token, prefix, path: `${match[4] ?? '/'}${query}` };
}

/**
 * The web relay: `https://<backend>/relay/<device>/<port>/…` proxies HTTP and WebSocket to a web
 * UI on the device's loopback (127.0.0.1:<port>), each request over its own device stream (a
 * {@link DeviceSocket} from the forward service, so the same allow-list, flow control and audit
 * apply). The `…` starts with the token of a grant a console user obtained from
 * `POST /api/v1/devices/:id/relay`; every request re-authenticates the session behind it.
 */
export class WebRelay {
  constructor(private readonly deps: WebRelayDeps) {}

  /** The user the request's relay grant stands for; UNAUTHORIZED, FORBIDDEN or NOT_FOUND otherwise. */
  private async authorize(request: IncomingMessage, target: RelayTarget): Promise<User> {
    const grant = target.token ? this.deps.grants.find(target.token, target.deviceId, target.port) : null;
    if (!grant) throw new TetherError('UNAUTHORIZED', 'No relay grant for this device and port: open it from the console');
    const user = await this.deps.users.authenticate(grant.sessionToken);
    requireRole(user, 'operator');
    this.deps.access.require(user, target.deviceId);
    return user;
  }

  private async connect(request: IncomingMessage, target: RelayTarget): Promise<DeviceSocket> {
    const user = await this.authorize(request, target);
    const { socket } = await this.deps.forwards.open(user, target.deviceId, { host: '127.0.0.1', port: target.port }, 'relay');
    return socket;
  }

  /** Takes `/relay/…` requests; returns false for every other URL. */
  handleRequest(request: IncomingMessage, response: ServerResponse): boolean {
    const target = relayTarget(request.url ?? '/');
    if (target === null) return false;
    if (target === 'redirect') {
      response.writeHead(308, { location: `${(request.url ?? '').split('?')[0] ?? ''}/` }).end();
      return true;
    }
    this.connect(request, target).then(
      (socket) => this.proxy(request, response, target, socket),
      (err: unknown) => answerError(response, errorCodeOf(err), err instanceof Error ? err.message : undefined),
    );
    return true;
  }

  private proxy(request: IncomingMessage, response: ServerResponse, target: RelayTarget, socket: DeviceSocket): void {
    const headers = requestHeadersForDevice(request.headers, { prefix: target.prefix, port: target.port, publicHost: request.headers.host ?? '', upgrade: false });
    const upstream = httpRequest({ method: request.method, path: target.path, headers, createConnection: () => socket });
    // http.request's own `timeout` needs a net.Socket's setTimeout, which a device stream has not.
    const timer = setTimeout(() => upstream.destroy(new TetherError('FORWARD_TIMEOUT', 'The device did not answer in time')), this.deps.responseTimeoutMs ?? 60_000);
    upstream.on('close', () => clearTimeout(timer));
    upstream.on('response', (answer) => {
      clearTimeout(timer);
      response.writeHead(answer.statusCode ?? 502, answer.statusMessage, responseHeadersForBrowser(answer.headers, target.prefix, target.port));
      answer.pipe(response);
      answer.on('error', () => response.destroy());
    });
    upstream.on('error', (err) => {
      const code = err instanceof TetherError ? err.code : socket.errorCode ?? errorCodeOf(err);
      if (!response.headersSent) answerError(response, code === 'INTERNAL' ? 'FORWARD_RESET' : code, err.message);
      else response.destroy();
    });
    // The browser went away before the answer ended: the device's connection goes too.
    response.on('close', () => {
      if (!response.writableFinished) socket.destroy();
    });
    request.pipe(upstream);
  }

  /** Takes `/relay/…` WebSocket upgrades: the handshake goes to the device as it came, then bytes flow both ways. */
  handleUpgrade(request: IncomingMessage, client: Duplex, head: Buffer): boolean {
    const target = relayTarget(request.url ?? '/');
    if (target === null) return false;
    client.on('error', () => client.destroy());
    if (target === 'redirect') {
      refuse(client, 'NOT_FOUND');
      return true;
    }
    this.connect(request, target).then(
      (socket) => {
        if (client.destroyed) {
          socket.destroy();
          return;
        }
        const headers = requestHeadersForDevice(request.headers, { prefix: target.prefix, port: target.port, publicHost: request.headers.host ?? '', upgrade: true });
        let text = `${request.method ?? 'GET'} ${target.path} HTTP/1.1\r\n`;
        for (const [name, value] of Object.entries(headers)) {
          for (const v of Array.isArray(value) ? value : [value]) if (v !== undefined) text += `${name}: ${String(v)}\r\n`;
        }
        socket.write(`${text}\r\n`);
        if (head.length > 0) socket.write(head);
        socket.pipe(client);
        client.pipe(socket);
        socket.on('close', () => client.destroy());
        client.on('close', () => socket.destroy());
      },
      (err: unknown) => refuse(client, errorCodeOf(err)),
    );
    return true;
  }
}

function answerError(response: ServerResponse, code: ErrorCode, message: string = ERRORS[code].message): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const body = JSON.stringify({ code, message });
  response.writeHead(ERRORS[code].http, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' }).end(body);
}

function refuse(socket: Duplex, code: ErrorCode): void {
  const body = JSON.stringify({ code, message: ERRORS[code].message });
  socket.end(`HTTP/1.1 ${ERRORS[code].http} ${code}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/**
 * Puts the relay in front of the server's own listeners (Fastify's request handler, the
 * WebSocket endpoints' upgrade handler): `/relay/…` never reaches Fastify, so its body parsers,
 * hooks and the console's CSP stay as they are for every other route, and the relay streams
 * bodies as they come. Call once the other listeners are attached.
 */
export function routeRelay(server: Server, relay: WebRelay): void {
  for (const event of ['request', 'upgrade'] as const) {
    const others = server.listeners(event) as Array<(...args: unknown[]) => void>;
    server.removeAllListeners(event);
    server.on(event, (...args: unknown[]) => {
      const [request, second, third] = args as [IncomingMessage, ServerResponse & Duplex, Buffer];
      const taken = event === 'request' ? relay.handleRequest(request, second) : relay.handleUpgrade(request, second, third);
      if (!taken) for (const listener of others) listener.apply(server, args);
    });
  }
}
