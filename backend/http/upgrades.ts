import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { ERRORS, TetherError, type ErrorCode } from '../../protocol/index.js';
import { storeUnavailable } from '../store/store-health.js';

/** One WebSocket endpoint: authenticate the upgrade request (throw or reject with a TetherError to refuse), then take the socket. */
export interface UpgradeEndpoint<T> {
  path: string;
  maxPayload: number;
  authenticate(request: IncomingMessage): T | Promise<T>;
  accept(ws: WebSocket, auth: T, request: IncomingMessage): void;
}

/**
 * Routes HTTP upgrades to the WebSocket endpoints. A refused upgrade gets a plain HTTP answer
 * with `{code, message}`, so clients see the same stable codes as the REST API.
 */
export function routeUpgrades(server: Server, endpoints: Array<UpgradeEndpoint<unknown>>): { close(): void } {
  const servers = endpoints.map((endpoint) => ({
    endpoint,
    wss: new WebSocketServer({ noServer: true, maxPayload: endpoint.maxPayload, perMessageDeflate: false, clientTracking: false }),
  }));
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', destroyOnError);
    const path = new URL(request.url ?? '/', 'https://tether.invalid').pathname;
    const match = servers.find((s) => s.endpoint.path === path);
    if (!match) return refuse(socket, 'NOT_FOUND');
    const upgrade = (auth: unknown) => {
      // The client may have gone while authentication waited for the database.
      if (socket.destroyed) return;
      match.wss.handleUpgrade(request, socket, head, (ws) => {
        // ws handles socket errors from here on; ours would keep this request alive for the
        // connection's lifetime (measured: ~1 KB per connected agent).
        socket.off('error', destroyOnError);
        match.endpoint.accept(ws, auth, request);
      });
    };
    const fail = (err: unknown) => {
      const coded = err instanceof TetherError ? err : storeUnavailable(err);
      refuse(socket, coded?.code ?? 'INTERNAL', coded?.message);
    };
    try {
      const auth = match.endpoint.authenticate(request);
      if (auth instanceof Promise) auth.then(upgrade, fail);
      else upgrade(auth);
    } catch (err) {
      fail(err);
    }
  });
  return { close: () => servers.forEach((s) => s.wss.close()) };
}

/** A module-level listener: a closure here would capture the upgrade request along with the socket. */
function destroyOnError(this: Duplex): void {
  this.destroy();
}

function refuse(socket: Duplex, code: ErrorCode, message: string = ERRORS[code].message): void {
  const body = JSON.stringify({ code, message });
  const status = ERRORS[code].http;
  socket.end(
    `HTTP/1.1 ${status} ${code}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
