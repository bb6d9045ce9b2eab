import { TLSSocket, type ConnectionOptions } from 'node:tls';
import type { Logger } from 'pino';
import WebSocket, { type ClientOptions, type RawData } from 'ws';
import { ClientHandshake } from '../../channel/handshake.js';
import { RpcPeer } from '../../channel/rpc.js';
import { SecureSession } from '../../channel/secure-session.js';
import { ERRORS, TetherError, type ErrorCode } from '../../protocol/errors.js';
import type { AgentState } from '../state/agent-state.js';
import { Backoff } from './backoff.js';
import { zeroMask } from '../net/zero-mask.js';

export interface ControlClientOptions {
  state: AgentState;
  log: Logger;
  /** Registers the agent's request handlers on each new connection's RPC peer. */
  onConnected(rpc: RpcPeer): void;
  /** The backend refused this device for good (revoked, unknown, certificate not on record). */
  onFatal(code: ErrorCode): void;
  /** Raw stream bytes from the backend (PTY input). */
  onStream?(streamId: number, data: Buffer): void;
  /** The session ended (streams and requests of it are gone). */
  onDisconnected?(): void;
  rekeyAfterFrames?: number;
  rekeyAfterMs?: number;
  heartbeatMs?: number;
  silenceMs?: number;
  backoffBaseMs?: number;
  /** Longest reconnect delay (60 s). */
  backoffMaxMs?: number;
  /** A connection that stays up this long resets the backoff. */
  stableAfterMs?: number;
}

/** Close codes after which reconnecting cannot help. */
const FATAL: ReadonlySet<ErrorCode> = new Set(['DEVICE_REVOKED', 'DEVICE_UNKNOWN', 'CERT_INVALID', 'CERT_SUBJECT_MISMATCH', 'BACKEND_IDENTITY_INVALID']);

function codeOfClose(reason: Buffer): ErrorCode | undefined {
  const text = reason.toString('utf8');
  return Object.hasOwn(ERRORS, text) ? (text as ErrorCode) : undefined;
}

/**
 * Keeps the control channel up: dial, signed handshake, sealed session, and reconnect with
 * full-jitter backoff (1 s → 60 s, reset after 30 s of stable connection).
 */
export class ControlClient {
  private ws: WebSocket | null = null;
  private session: SecureSession | null = null;
  private readonly backoff: Backoff;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private stableTimer: NodeJS.Timeout | null = null;
  private readonly ticker: NodeJS.Timeout;
  private stopped = false;
  /**
   * The last TLS session (ticket) the backend gave us. A reconnect resumes it and skips the TLS
   * certificate signature, which halves the backend's RSA work in a reconnect storm; the
   * channel's own handshake above TLS still authenticates both sides every time.
   */
  private tlsSession: Buffer | undefined;
  private tlsResumed = false;

  constructor(private readonly options: ControlClientOptions) {
    this.backoff = new Backoff(options.backoffBaseMs ?? 1_000, options.backoffMaxMs ?? 60_000);
    this.ticker = setInterval(() => this.session?.tick(), 1_000);
  }

  /**
   * Sends stream bytes on the current session, chunked to the frame bound; false when there is
   * no session. The caller bounds what it sends (flow control), since the socket buffers the rest.
   */
  sendStream(streamId: number, data: Uint8Array): boolean {
    const session = this.session;
    if (!session || session.closed) return false;
    const max = session.maxStreamChunkBytes;
    for (let offset = 0; offset < data.length; offset += max) {
      if (!session.sendStream(streamId, data.subarray(offset, offset + max))) return false;
    }
    return true;
  }

  get connected(): boolean {
    return this.session !== null && !this.session.closed;
  }

  start(): void {
    this.connect();
  }

  private connect(): void {
    const { state, log } = this.options;
    const url = new URL('/v1/agent/control', state.backendUrl).href;
    // ws hands its options to tls.connect, `session` included.
    const wsOptions: ClientOptions & Pick<ConnectionOptions, 'session'> = {
      ca: state.caCertPem, perMessageDeflate: false, handshakeTimeout: 15_000, maxPayload: 2 * 1024 * 1024, session: this.tlsSession, generateMask: zeroMask,
    };
    const ws = new WebSocket(url, wsOptions);
    this.ws = ws;
    ws.on('upgrade', (res) => {
      const socket = res.socket;
      if (!(socket instanceof TLSSocket)) return;
      this.tlsResumed = socket.isSessionReused();
      this.tlsSession = socket.getSession() ?? this.tlsSession;
      socket.on('session', (session: Buffer) => {
        this.tlsSession = session;
      });
    });
    const handshake = new ClientHandshake({ deviceId: state.deviceId, deviceCertPem: state.certPem, deviceKeyPem: state.keyPem, caCertPem: state.caCertPem, caPin: state.caPin });

    ws.on('open', () => ws.send(JSON.stringify(handshake.hello())));
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      if (this.session) {
        this.session.receive(bytes);
        return;
      }
      try {
        if (isBinary) throw new TetherError('HANDSHAKE_FAILED', 'Expected server_hello');
        const { auth, established } = handshake.onServerHello(JSON.parse(bytes.toString('utf8')) as unknown);
        ws.send(JSON.stringify(auth));
        this.openSession(ws, established);
      } catch (err) {
        const code: ErrorCode = err instanceof TetherError ? err.code : 'HANDSHAKE_FAILED';
        log.error({ code, err: err instanceof Error ? err.message : String(err) }, 'handshake with the backend failed');
        ws.close(ERRORS[code].close, code);
      }
    });
    ws.on('unexpected-response', (_req, res) => {
      log.warn({ status: res.statusCode }, 'backend refused the control upgrade');
      ws.terminate();
    });
    ws.on('error', (err) => log.debug({ err: err.message }, 'control socket error'));
    ws.on('close', (closeCode: number, reason: Buffer) => {
      const code = codeOfClose(reason);
      this.session?.close();
      this.session = null;
      if (this.stableTimer) clearTimeout(this.stableTimer);
      if (this.ws === ws) this.ws = null;
      if (this.stopped) return;
      if (code && FATAL.has(code)) {
        log.error({ code, closeCode }, 'the backend refused this device');
        this.options.onFatal(code);
        return;
      }
      const delay = this.backoff.next();
      log.info({ code, closeCode, retryInMs: delay }, 'control channel closed; reconnecting');
      this.reconnectTimer = setTimeout(() => this.connect(), delay);
    });
  }

  private openSession(ws: WebSocket, established: ConstructorParameters<typeof SecureSession>[0]['established']): void {
    const { log, rekeyAfterFrames, rekeyAfterMs, heartbeatMs, silenceMs } = this.options;
    let rpc: RpcPeer | null = null;
    const session = new SecureSession({
      role: 'client',
      established,
      rekeyAfterFrames,
      rekeyAfterMs,
      heartbeatMs,
      silenceMs,
      transport: { send: (frame) => ws.send(frame), close: (code, reason) => ws.close(code, reason) },
      onMessage: (msg) => {
        if (msg.type === 'welcome') {
          log.info({ deviceId: msg.deviceId, tlsResumed: this.tlsResumed }, 'connected');
          this.stableTimer = setTimeout(() => this.backoff.reset(), this.options.stableAfterMs ?? 30_000);
          if (rpc) this.options.onConnected(rpc);
          return;
        }
        rpc?.dispatch(msg);
      },
      onStream: (streamId, data) => this.options.onStream?.(streamId, data),
      onRekey: (epoch) => log.info({ epoch }, 'session keys rotated'),
      onClose: (error) => {
        rpc?.failAll('DEVICE_OFFLINE');
        this.options.onDisconnected?.();
        if (error) log.warn({ code: error.code }, 'control session closed');
      },
    });
    rpc = new RpcPeer({ send: (msg) => session.send(msg) });
    this.session = session;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.ticker);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.stableTimer) clearTimeout(this.stableTimer);
    this.session?.close();
    this.ws?.close(1000);
  }
}
