import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import WebSocket from 'ws';
import { ForwardServerMessage, type ForwardClientMessage } from '../../protocol/index.js';
import { CliError, refusalOf } from '../cli-error.js';
import type { Credentials } from '../credentials.js';
import type { ForwardSpec } from './forward-spec.js';

/** What `tether forward` reports, one per line with `--json`. */
export type ForwardEvent =
  | { event: 'listening'; address: string; port: number; deviceId: string; host: string; remotePort: number }
  | { event: 'open'; connection: number; from: string }
  | { event: 'close'; connection: number; bytesIn: number; bytesOut: number; code: string | null; message?: string };

/** Bytes waiting in the WebSocket's send buffer above which the local socket is paused. */
const WS_HIGH_WATER_BYTES = 512 * 1024;
const MAX_FRAME_BYTES = 1024 * 1024;

export interface PortForward {
  readonly address: AddressInfo;
  readonly connections: number;
  close(): Promise<void>;
}

/**
 * Listens on `spec.bind:spec.localPort` and turns every accepted TCP connection into one
 * `/api/v1/forward` WebSocket to `spec.host:spec.remotePort` on the device. Half-closes travel as
 * `{type:'end'}`, a coded close of the socket resets the local connection, and back-pressure
 * holds both ways (the local socket is paused while the WebSocket's buffer is full, the WebSocket
 * while the local socket's is).
 */
export async function startPortForward(credentials: Credentials, deviceId: string, spec: ForwardSpec, onEvent: (event: ForwardEvent) => void): Promise<PortForward> {
  const open = new Set<{ local: Socket; ws: WebSocket }>();
  let next = 0;
  const server: Server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (local) => {
    const connection = ++next;
    const ws = relay(credentials, deviceId, spec, local, connection, onEvent);
    const entry = { local, ws };
    open.add(entry);
    local.once('close', () => open.delete(entry));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(CliError.of(err.code === 'EADDRINUSE' ? 'CONFLICT' : 'BAD_REQUEST', `Cannot listen on ${spec.bind}:${spec.localPort}: ${err.message}`)));
    server.listen(spec.localPort, spec.bind, resolve);
  });
  const address = server.address() as AddressInfo;
  onEvent({ event: 'listening', address: address.address, port: address.port, deviceId, host: spec.host, remotePort: spec.remotePort });
  return {
    address,
    get connections() {
      return open.size;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const { local, ws } of open) {
          ws.terminate();
          local.destroy();
        }
        server.close(() => resolve());
      }),
  };
}

function relay(credentials: Credentials, deviceId: string, spec: ForwardSpec, local: Socket, connection: number, onEvent: (event: ForwardEvent) => void): WebSocket {
  const url = new URL('/api/v1/forward', credentials.url);
  url.protocol = 'wss:';
  url.searchParams.set('deviceId', deviceId);
  url.searchParams.set('host', spec.host);
  url.searchParams.set('port', String(spec.remotePort));
  const ws = new WebSocket(url, { ca: credentials.caCertPem, headers: { authorization: `Bearer ${credentials.token}` }, perMessageDeflate: false, handshakeTimeout: 30_000, maxPayload: MAX_FRAME_BYTES });
  let bytesIn = 0;
  let bytesOut = 0;
  let opened = false;
  let localEnded = false;
  let reported = false;
  onEvent({ event: 'open', connection, from: `${local.remoteAddress ?? '?'}:${local.remotePort ?? 0}` });
  const report = (code: string | null, message?: string): void => {
    if (reported) return;
    reported = true;
    onEvent({ event: 'close', connection, bytesIn, bytesOut, code, ...(message ? { message } : {}) });
  };
  const control = (msg: ForwardClientMessage): void => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  };

  ws.on('unexpected-response', (_req, res) => {
    void refusalOf(res).then((error) => {
      report(error.code, error.message);
      local.destroy();
    });
  });
  ws.on('error', (err) => {
    report('BACKEND_UNREACHABLE', err.message);
    local.destroy();
  });
  ws.on('message', (data: Buffer, isBinary) => {
    if (isBinary) {
      bytesIn += data.length;
      if (!local.write(data)) ws.pause();
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(data.toString('utf8'));
    } catch {
      json = undefined;
    }
    const msg = ForwardServerMessage.safeParse(json);
    if (!msg.success) return;
    if (msg.data.type === 'opened') {
      opened = true;
      readLocal();
    } else local.end();
  });
  ws.on('close', (code, reason) => {
    if (code === 1000) {
      report(null);
      // The device's side is gone both ways: what is written still reaches the local peer.
      local.end(() => local.destroy());
      return;
    }
    const text = reason.toString('utf8');
    report(text !== '' ? text.slice(0, 64) : 'BACKEND_UNREACHABLE', `The forward closed (${code})`);
    // A reset, so the local peer sees the error instead of a clean end.
    local.resetAndDestroy();
  });

  local.on('drain', () => ws.resume());
  // Read only once the device connected (the server pauses on connect; a 'data' listener would resume).
  const readLocal = (): void => {
    local.on('data', (chunk: Buffer) => {
      bytesOut += chunk.length;
      ws.send(chunk, { binary: true }, () => {
        if (local.isPaused() && ws.bufferedAmount < WS_HIGH_WATER_BYTES / 2) local.resume();
      });
      if (ws.bufferedAmount > WS_HIGH_WATER_BYTES) local.pause();
    });
    local.on('end', () => {
      localEnded = true;
      control({ type: 'end' });
    });
    // A socket paused on connect stays paused when a 'data' listener is added.
    local.resume();
  };
  local.on('error', () => undefined);
  local.on('close', (hadError) => {
    if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) {
      if (hadError) ws.terminate();
      else if (!opened || !localEnded) ws.close(1000, 'closed');
    }
  });
  return ws;
}
