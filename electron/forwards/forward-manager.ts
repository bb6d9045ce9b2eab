import { randomUUID } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type WebSocket from 'ws';
import { ForwardServerMessage, TetherError, type ForwardClientMessage } from '../../protocol/index.js';

/**
 * Opens one `/api/v1/forward` WebSocket to `host:port` on the device, authenticated and pinned by
 * the caller (the composition root holds the profile, its CA pin and the session token).
 */
export type ForwardDial = (deviceId: string, host: string, port: number) => WebSocket;

export interface ForwardRequest {
  deviceId: string;
  /** Loopback unless the user chose otherwise on purpose. */
  bind?: string;
  /** 0: a free port. */
  localPort: number;
  host: string;
  remotePort: number;
}

/** One active forward as the device page lists it. */
export interface ForwardInfo {
  id: string;
  deviceId: string;
  bind: string;
  localPort: number;
  host: string;
  remotePort: number;
  /** Connections open now / since the forward started. */
  connections: number;
  totalConnections: number;
  /** From the device / to the device, over every connection so far. */
  bytesIn: number;
  bytesOut: number;
  /** The code the last connection that failed ended with (FORWARD_REFUSED, …). */
  lastError: string | null;
}

interface Active {
  info: ForwardInfo;
  server: Server;
  sockets: Set<{ local: Socket; ws: WebSocket }>;
}

const WS_HIGH_WATER_BYTES = 512 * 1024;
/** More forwards than anyone watches at once: a runaway renderer cannot open listeners without end. */
export const MAX_DESKTOP_FORWARDS = 64;

/**
 * The desktop app's TCP forwards, kept in the main process (a renderer cannot listen on ports):
 * each listens on the loopback and relays every accepted connection over its own forward socket,
 * as `tether forward` does (cli/forward/port-forward.ts; electron/ may not import cli/), and
 * counts connections and bytes for the list on the device page. No Electron import: tested under Node.
 */
export class ForwardManager {
  private readonly active = new Map<string, Active>();
  private readonly listeners = new Set<() => void>();

  constructor(private readonly dial: ForwardDial) {}

  /** Called after every change (a forward started or stopped, a connection opened or closed). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  list(deviceId?: string): ForwardInfo[] {
    return [...this.active.values()].map((a) => ({ ...a.info })).filter((f) => deviceId === undefined || f.deviceId === deviceId);
  }

  async start(request: ForwardRequest): Promise<ForwardInfo> {
    if (this.active.size >= MAX_DESKTOP_FORWARDS) throw new TetherError('FORWARD_LIMIT', 'Too many forwards open in this app');
    const bind = request.bind ?? '127.0.0.1';
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(new TetherError(err.code === 'EADDRINUSE' ? 'CONFLICT' : 'BAD_REQUEST', `Cannot listen on ${bind}:${request.localPort}: ${err.message}`)));
      server.listen(request.localPort, bind, resolve);
    });
    const address = server.address() as AddressInfo;
    const info: ForwardInfo = {
      id: randomUUID(), deviceId: request.deviceId, bind, localPort: address.port, host: request.host, remotePort: request.remotePort,
      connections: 0, totalConnections: 0, bytesIn: 0, bytesOut: 0, lastError: null,
    };
    const active: Active = { info, server, sockets: new Set() };
    server.on('connection', (local: Socket) => this.relay(active, local));
    this.active.set(info.id, active);
    this.changed();
    return { ...info };
  }

  /** Stops listening and cuts the forward's connections. */
  async stop(id: string): Promise<boolean> {
    const active = this.active.get(id);
    if (!active) return false;
    this.active.delete(id);
    for (const { local, ws } of active.sockets) {
      ws.terminate();
      local.destroy();
    }
    await new Promise<void>((resolve) => active.server.close(() => resolve()));
    this.changed();
    return true;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.active.keys()].map((id) => this.stop(id)));
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }

  private relay(active: Active, local: Socket): void {
    const { info } = active;
    const ws = this.dial(info.deviceId, info.host, info.remotePort);
    const entry = { local, ws };
    active.sockets.add(entry);
    info.connections++;
    info.totalConnections++;
    this.changed();
    let opened = false;
    const control = (msg: ForwardClientMessage): void => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
    };
    local.on('error', () => undefined);
    local.on('drain', () => ws.resume());
    local.once('close', () => {
      active.sockets.delete(entry);
      info.connections--;
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(1000, 'closed');
      this.changed();
    });
    ws.on('error', () => {
      info.lastError ??= 'BACKEND_UNREACHABLE';
      local.destroy();
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        info.bytesIn += data.length;
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
      if (msg.data.type === 'end') {
        local.end();
        return;
      }
      if (opened) return;
      opened = true;
      local.on('data', (chunk: Buffer) => {
        info.bytesOut += chunk.length;
        ws.send(chunk, { binary: true }, () => {
          if (local.isPaused() && ws.bufferedAmount < WS_HIGH_WATER_BYTES / 2) local.resume();
        });
        if (ws.bufferedAmount > WS_HIGH_WATER_BYTES) local.pause();
      });
      local.on('end', () => control({ type: 'end' }));
      local.resume();
    });
    ws.on('close', (code: number, reason: Buffer) => {
      if (code === 1000) {
        local.end(() => local.destroy());
        return;
      }
      info.lastError = reason.toString('utf8').slice(0, 64) || 'BACKEND_UNREACHABLE';
      local.resetAndDestroy();
      this.changed();
    });
  }
}
