import type { ControlMessage } from '../protocol/control.js';
import { ERRORS, isErrorCode, missingCase, TetherError } from '../protocol/errors.js';

/** A request that failed: `code` is a stable code (REQUEST_TIMEOUT, RATE_LIMITED, or the peer's answer). */
export class RpcError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

export interface RpcPeerOptions {
  /** Sends one message to the peer; `false` means the channel is closed (SecureSession.send). */
  send(msg: ControlMessage): void | boolean;
  /** Per request, unless request() is given its own. */
  defaultTimeoutMs?: number;
  /** Bound on outgoing requests awaiting an answer, and on incoming requests being handled. */
  maxPending?: number;
  /** Errors that become INTERNAL on the wire (handler bugs, throwing event listeners), for the log. */
  onInternalError?(error: unknown, context: string): void;
}

export type RpcHandler = (params: unknown) => unknown;
export type RpcEventListener = (name: string, data: unknown) => void;

export const DEFAULT_RPC_TIMEOUT_MS = 10_000;
export const DEFAULT_RPC_MAX_PENDING = 1024;

interface Pending {
  resolve(value: unknown): void;
  reject(error: RpcError): void;
  timer: NodeJS.Timeout;
}

function rpcError(code: keyof typeof ERRORS): RpcError {
  return new RpcError(code, ERRORS[code].message);
}

/**
 * Request/response with correlation ids and timeouts, plus fire-and-forget events, over any
 * ControlMessage sender. Both ends of the control channel use one; feed it with dispatch().
 */
export class RpcPeer {
  private readonly opts: RpcPeerOptions;
  private readonly defaultTimeoutMs: number;
  private readonly maxPending: number;
  // Created on first use: the backend holds one peer per connected device, most of which never
  // register a handler and are idle between requests (10,000 empty Maps are ~2 MB).
  private pendingById: Map<number, Pending> | null = null;
  private handlers: Map<string, RpcHandler> | null = null;
  private readonly listeners: RpcEventListener[] = [];
  private nextId = 1;
  private handling = 0;

  constructor(opts: RpcPeerOptions) {
    this.opts = opts;
    this.defaultTimeoutMs = opts.defaultTimeoutMs ?? DEFAULT_RPC_TIMEOUT_MS;
    this.maxPending = opts.maxPending ?? DEFAULT_RPC_MAX_PENDING;
  }

  /** Outgoing requests awaiting an answer. */
  get pendingCount(): number {
    return this.pendingById?.size ?? 0;
  }

  private get pending(): Map<number, Pending> {
    return (this.pendingById ??= new Map());
  }

  /**
   * Calls `method` on the peer. Rejects with RpcError REQUEST_TIMEOUT, RATE_LIMITED (too many
   * pending), DEVICE_OFFLINE (channel closed), the sender's TetherError code, or the peer's error code.
   */
  request(method: string, params: unknown, timeoutMs: number = this.defaultTimeoutMs): Promise<unknown> {
    if (this.pendingCount >= this.maxPending) return Promise.reject(rpcError('RATE_LIMITED'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(rpcError('REQUEST_TIMEOUT'));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      const error = this.trySend({ type: 'req', id, method, params });
      if (error !== null) this.settle(id, (p) => p.reject(error));
    });
  }

  /** Registers the handler of `method`; its result is the answer, a thrown TetherError answers its code, anything else INTERNAL. */
  handle(method: string, fn: RpcHandler): void {
    (this.handlers ??= new Map()).set(method, fn);
  }

  onEvent(fn: RpcEventListener): void {
    this.listeners.push(fn);
  }

  /** Fire-and-forget; returns false when the channel is closed or the event could not be sent. */
  emit(name: string, data: unknown): boolean {
    return this.trySend({ type: 'evt', name, data }) === null;
  }

  /** Handles req/res/evt; returns false for every other message type so the caller can handle it. */
  dispatch(msg: ControlMessage): boolean {
    switch (msg.type) {
      case 'req':
        this.onRequest(msg);
        return true;
      case 'res':
        this.settle(msg.id, (p) => {
          if (msg.ok) p.resolve(msg.result);
          else p.reject(new RpcError(msg.error?.code ?? 'INTERNAL', msg.error?.message ?? ERRORS.INTERNAL.message));
        });
        return true;
      case 'evt':
        for (const listener of this.listeners) {
          try {
            listener(msg.name, msg.data);
          } catch (err) {
            this.opts.onInternalError?.(err, `event ${msg.name}`);
          }
        }
        return true;
      case 'welcome':
      case 'ping':
      case 'pong':
      case 'rekey':
      case 'rekey_ack':
        return false;
      default:
        return missingCase(msg);
    }
  }

  /** Rejects every pending request with `code` (e.g. DEVICE_OFFLINE when the channel drops). */
  failAll(code: string): void {
    const message = isErrorCode(code) ? ERRORS[code].message : code;
    if (this.pendingById === null) return;
    for (const id of [...this.pendingById.keys()]) this.settle(id, (p) => p.reject(new RpcError(code, message)));
  }

  /** Late answers (after a timeout or failAll) find nothing and are dropped. */
  private settle(id: number, fn: (p: Pending) => void): void {
    const p = this.pendingById?.get(id);
    if (p === undefined) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    fn(p);
  }

  private onRequest(msg: Extract<ControlMessage, { type: 'req' }>): void {
    const handler = this.handlers?.get(msg.method);
    if (handler === undefined) {
      this.answerError(msg.id, 'METHOD_UNKNOWN', `Unknown method ${msg.method}`);
      return;
    }
    if (this.handling >= this.maxPending) {
      this.answerError(msg.id, 'RATE_LIMITED', ERRORS.RATE_LIMITED.message);
      return;
    }
    this.handling++;
    // new Promise: a handler that throws synchronously is answered like one that rejects.
    new Promise<unknown>((resolve) => resolve(handler(msg.params)))
      .then(
        (result) => {
          const error = this.trySend({ type: 'res', id: msg.id, ok: true, result });
          // e.g. a result too large for one frame: the requester still gets an answer.
          if (error !== null && error.code !== 'DEVICE_OFFLINE') this.answerError(msg.id, error.code, error.message);
        },
        (err: unknown) => {
          if (err instanceof TetherError || err instanceof RpcError) {
            this.answerError(msg.id, err.code, err.message);
          } else {
            this.opts.onInternalError?.(err, `method ${msg.method}`);
            this.answerError(msg.id, 'INTERNAL', ERRORS.INTERNAL.message);
          }
        },
      )
      .finally(() => {
        this.handling--;
      });
  }

  private answerError(id: number, code: string, message: string): void {
    // Within the WireError bounds: an answer the peer's schema refuses would cost the whole channel.
    this.trySend({ type: 'res', id, ok: false, error: { code: code.slice(0, 64), message: message.slice(0, 4096) } });
  }

  /** Sends, turning every failure into an RpcError instead of a throw. */
  private trySend(msg: ControlMessage): RpcError | null {
    try {
      return this.opts.send(msg) === false ? rpcError('DEVICE_OFFLINE') : null;
    } catch (err) {
      if (err instanceof TetherError) return new RpcError(err.code, err.message);
      this.opts.onInternalError?.(err, `send ${msg.type}`);
      return rpcError('INTERNAL');
    }
  }
}
