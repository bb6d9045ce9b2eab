import { connect, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { TetherError } from '../../protocol/errors.js';
import { FORWARD_ACK_BATCH_BYTES, FORWARD_ACK_DELAY_MS, type ForwardErrorCode } from '../../protocol/forward.js';
import type { AgentParams, AgentResult } from '../../protocol/methods.js';
import { FlowWindow } from '../../channel/flow-window.js';
import type { ForwardAllowList } from './allow-list.js';

export type ForwardEvent =
  | { name: 'forward.ack'; data: { streamId: number; bytes: number } }
  | { name: 'forward.end'; data: { streamId: number } }
  | { name: 'forward.closed'; data: { streamId: number; code: ForwardErrorCode | null; message?: string } };

export interface TcpForwardsOptions {
  /** Sends the socket's bytes on the control channel; false when it is down. */
  send(streamId: number, data: Uint8Array): boolean;
  emit(event: ForwardEvent): void;
  /** The allow-list in force (read at each open, so a settings change applies to the next forward). */
  allowList(): ForwardAllowList;
  log: Logger;
  maxForwards?: number;
  connectTimeoutMs?: number;
  highWaterBytes?: number;
  lowWaterBytes?: number;
  /** Bytes from the backend waiting for the socket beyond the credit it was given: a backend that ignores acks. */
  maxQueuedBytes?: number;
}

interface Forward {
  readonly streamId: number;
  readonly socket: Socket;
  readonly window: FlowWindow;
  /** Written to the socket, not yet acknowledged to the backend. */
  ackDue: number;
  ackTimer: NodeJS.Timeout | null;
  error: { code: ForwardErrorCode; message: string } | null;
  /** Closed on the backend's word: nothing more is reported. */
  silent: boolean;
}

export const DEFAULT_MAX_FORWARDS = 256;
export const DEFAULT_CONNECT_TIMEOUT_MS = 8_000;
const DEFAULT_MAX_QUEUED_BYTES = 1024 * 1024;

/** Maps a socket error to the stable code the operator sees. */
export function forwardErrorCode(err: unknown): ForwardErrorCode {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
  switch (code) {
    case 'ECONNREFUSED':
      return 'FORWARD_REFUSED';
    case 'ETIMEDOUT':
      return 'FORWARD_TIMEOUT';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EADDRNOTAVAIL':
      return 'FORWARD_UNREACHABLE';
    default:
      return 'FORWARD_RESET';
  }
}

/**
 * The device's end of TCP forwards: one socket per stream id to a host:port the allow-list takes.
 * Both directions are flow-controlled: what the socket reads counts against a {@link FlowWindow}
 * until the backend acks it (the socket is paused above the high mark), and what the backend
 * sends is acked only once the socket has taken it. Half-closes travel as `forward.end` both ways.
 */
export class TcpForwards {
  private readonly forwards = new Map<number, Forward>();

  constructor(private readonly opts: TcpForwardsOptions) {}

  get size(): number {
    return this.forwards.size;
  }

  has(streamId: number): boolean {
    return this.forwards.has(streamId);
  }

  open(params: AgentParams<'forward.open'>): Promise<AgentResult<'forward.open'>> {
    const { streamId, host, port } = params;
    if (this.forwards.has(streamId)) return Promise.reject(new TetherError('CONFLICT', 'The stream already has a forward'));
    if (this.forwards.size >= (this.opts.maxForwards ?? DEFAULT_MAX_FORWARDS)) return Promise.reject(new TetherError('FORWARD_LIMIT'));
    if (!this.opts.allowList().allows(host, port)) return Promise.reject(new TetherError('FORWARD_NOT_ALLOWED', `${host}:${port} is not in this device's forward allow-list`));
    const bare = host.startsWith('[') ? host.slice(1, -1) : host;
    const socket = connect({ host: bare, port, allowHalfOpen: true });
    const forward: Forward = {
      streamId, socket, window: new FlowWindow(this.opts.highWaterBytes, this.opts.lowWaterBytes), ackDue: 0, ackTimer: null, error: null, silent: false,
    };
    this.forwards.set(streamId, forward);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => socket.destroy(Object.assign(new Error(`connect to ${host}:${port} timed out`), { code: 'ETIMEDOUT' })), this.opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
      const onConnectError = (err: Error): void => {
        clearTimeout(timer);
        this.forwards.delete(streamId);
        socket.destroy();
        reject(new TetherError(forwardErrorCode(err), `${host}:${port}: ${err.message}`));
      };
      socket.once('error', onConnectError);
      // Closed by the backend before it connected: the request must still settle.
      socket.once('close', () => onConnectError(Object.assign(new Error('closed before it connected'), { code: 'ECONNRESET' })));
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        socket.removeAllListeners('close');
        socket.setNoDelay(true);
        this.wire(forward);
        this.opts.log.info({ streamId, host, port }, 'forward opened');
        resolve({});
      });
    });
  }

  private wire(forward: Forward): void {
    const { socket, streamId, window } = forward;
    socket.on('data', (chunk: Buffer) => {
      if (!this.opts.send(streamId, chunk)) {
        socket.destroy();
        return;
      }
      if (window.sent(chunk.length)) socket.pause();
    });
    socket.on('end', () => {
      if (!forward.silent) this.opts.emit({ name: 'forward.end', data: { streamId } });
    });
    socket.on('error', (err: Error) => {
      forward.error ??= { code: forwardErrorCode(err), message: err.message };
    });
    socket.on('close', () => {
      if (this.forwards.get(streamId) === forward) this.forwards.delete(streamId);
      if (forward.ackTimer) clearTimeout(forward.ackTimer);
      if (forward.silent) return;
      this.flushAck(forward);
      const error = forward.error;
      this.opts.emit({ name: 'forward.closed', data: { streamId, code: error?.code ?? null, ...(error ? { message: error.message.slice(0, 1024) } : {}) } });
    });
  }

  /** Bytes from the backend for the socket; bytes for a stream without a forward are dropped. */
  write(streamId: number, data: Buffer): void {
    const forward = this.forwards.get(streamId);
    if (!forward || forward.socket.destroyed || !forward.socket.writable) return;
    if (forward.socket.writableLength > (this.opts.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES)) {
      forward.error = { code: 'RATE_LIMITED_CHANNEL', message: 'The backend sent beyond its credit' };
      forward.socket.destroy();
      return;
    }
    forward.socket.write(data, () => this.written(forward, data.length));
  }

  private written(forward: Forward, bytes: number): void {
    if (forward.silent) return;
    forward.ackDue += bytes;
    if (forward.ackDue >= FORWARD_ACK_BATCH_BYTES) this.flushAck(forward);
    else forward.ackTimer ??= setTimeout(() => this.flushAck(forward), FORWARD_ACK_DELAY_MS);
  }

  private flushAck(forward: Forward): void {
    if (forward.ackTimer) clearTimeout(forward.ackTimer);
    forward.ackTimer = null;
    if (forward.ackDue === 0 || forward.silent) return;
    this.opts.emit({ name: 'forward.ack', data: { streamId: forward.streamId, bytes: forward.ackDue } });
    forward.ackDue = 0;
  }

  /** The backend took `bytes` more of this socket's output. */
  ack(streamId: number, bytes: number): void {
    const forward = this.forwards.get(streamId);
    if (forward && forward.window.acked(bytes)) forward.socket.resume();
  }

  /** The operator's side half-closed: FIN once everything before it is written. */
  end(streamId: number): void {
    this.forwards.get(streamId)?.socket.end();
  }

  /** The backend ends the forward: the socket goes at once, unreported. */
  close(streamId: number): boolean {
    const forward = this.forwards.get(streamId);
    if (!forward) return false;
    this.forwards.delete(streamId);
    forward.silent = true;
    forward.socket.destroy();
    return true;
  }

  /** The control channel dropped: the stream ids belonged to that link. */
  closeAll(): void {
    for (const streamId of [...this.forwards.keys()]) this.close(streamId);
  }
}
