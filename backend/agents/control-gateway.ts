import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import { ServerHandshake, type Established } from '../../channel/handshake.js';
import { RpcPeer } from '../../channel/rpc.js';
import { DEFAULT_MAX_REKEYS_PER_MINUTE, SecureSession, type SessionTransport } from '../../channel/secure-session.js';
import { AGENT_EVENTS, TetherError, type ControlMessage, type DeviceFacts, type ErrorCode } from '../../protocol/index.js';
import type { DeviceLink, LinkRegistry } from '../devices/device-router.js';
import { LinkStreams } from '../devices/link-streams.js';
import type { DeviceRecord, DeviceStore } from '../devices/device-store.js';
import type { DeviceConnections } from '../devices/device-service.js';
import type { Presence } from '../devices/presence.js';
import type { BackendCounters } from '../ops/backend-metrics.js';
import { storeUnavailable } from '../store/store-health.js';
import { closeWith, toBuffer } from '../http/ws-messages.js';

export interface ControlChannelLimits {
  /** Largest sealed frame accepted; ws's own maxPayload sits a little above it so ours answers first. */
  maxFrameBytes: number;
  handshakeTimeoutMs: number;
  heartbeatMs: number;
  silenceMs: number;
  requestTimeoutMs: number;
  /** Client rekeys accepted per rolling minute (SecureSession's bound). */
  maxRekeysPerMinute: number;
}

export const DEFAULT_CONTROL_LIMITS: ControlChannelLimits = {
  maxFrameBytes: 1024 * 1024,
  handshakeTimeoutMs: 10_000,
  heartbeatMs: 30_000,
  silenceMs: 90_000,
  requestTimeoutMs: 10_000,
  maxRekeysPerMinute: DEFAULT_MAX_REKEYS_PER_MINUTE,
};

export interface ControlGatewayDeps {
  identity: { certPem: string; keyPem: string };
  caCertPem: string;
  devices: Pick<DeviceStore, 'find'>;
  /** Where the facts a device reports go (stored, and announced when they changed). */
  onFacts(deviceId: string, facts: DeviceFacts): Promise<void>;
  presence: Presence;
  router: LinkRegistry;
  log: Logger;
  limits?: Partial<ControlChannelLimits>;
  /** /metrics counters this gateway moves. */
  counters?: Pick<BackendCounters, 'controlFrames' | 'controlHandshakes' | 'streamFramesDropped'>;
}


/** Sealed frames a client may send after its auth before the device lookup answers (a few: it has not seen the welcome yet). */
const EARLY_FRAMES_MAX = 32;

/** What every connection of one gateway shares: created once, referenced by each connection. */
interface GatewayShared {
  readonly deps: ControlGatewayDeps;
  readonly limits: ControlChannelLimits;
  readonly identityKey: KeyObject;
  readonly caCert: X509Certificate;
  readonly sessions: SessionWheel;
  /**
   * Connections between the start of their last device lookup and their session opening, by
   * device id: a revocation committed while a lookup is in flight closes them (see `disconnect`).
   */
  readonly admitting: Map<string, Set<AgentConnection>>;
}

/**
 * Accepts agents' control channels: runs the signed handshake, checks the device's record
 * (unknown, pending, revoked, certificate of record), then relays sealed frames between
 * the device's {@link SecureSession} and the {@link LocalDeviceRouter}.
 *
 * A revocation stores the status first and then calls `disconnect` here and on the router, so a
 * handshake racing it either reads `revoked`, or is registered in `admitting` before its read
 * began and is closed by `disconnect`, or had opened (attached to the router) and is closed there.
 */
/** How often a slice of the sessions has its heartbeat checked (each sends a ping only when one is due). */
const HEARTBEAT_TICK_MS = 100;
/** Slices of the sessions, one per tick: each session is checked once every HEARTBEAT_SLICES ticks. */
const HEARTBEAT_SLICES = 10;

/**
 * The open sessions in slices, each new one in the next slice round. A tick visits one slice, so
 * 10,000 sessions cost ~1,000 checks and ~33 pings per tick rather than every session at once.
 */
class SessionWheel {
  private readonly slices = Array.from({ length: HEARTBEAT_SLICES }, () => new Set<SecureSession>());
  private nextSlice = 0;
  private turn = 0;

  add(session: SecureSession): void {
    this.slices[this.nextSlice]?.add(session);
    this.nextSlice = (this.nextSlice + 1) % HEARTBEAT_SLICES;
  }

  delete(session: SecureSession): void {
    for (const slice of this.slices) if (slice.delete(session)) return;
  }

  all(): SecureSession[] {
    return this.slices.flatMap((slice) => [...slice]);
  }

  tick(now: number): void {
    const slice = this.slices[this.turn] ?? new Set();
    this.turn = (this.turn + 1) % HEARTBEAT_SLICES;
    for (const session of slice) session.tick(now);
  }
}

export class ControlGateway implements DeviceConnections {
  private readonly shared: GatewayShared;
  private readonly ticker: NodeJS.Timeout;

  constructor(deps: ControlGatewayDeps) {
    const limits = { ...DEFAULT_CONTROL_LIMITS, ...deps.limits };
    this.shared = {
      deps,
      limits,
      // Parsed once: per handshake they would be native allocations that fragment the heap under a connect storm.
      identityKey: createPrivateKey(deps.identity.keyPem),
      caCert: new X509Certificate(deps.caCertPem),
      sessions: new SessionWheel(),
      admitting: new Map(),
    };
    // One timer drives the heartbeats of every session: 10,000 agents must not mean 10,000 timers.
    // It visits a slice per tick so each tick has few pings to seal: a once-a-second sweep of all
    // 10,000 sessions on a 30 s heartbeat sealed ~330 pings in one callback.
    this.ticker = setInterval(() => this.shared.sessions.tick(Date.now()), Math.min(HEARTBEAT_TICK_MS, limits.heartbeatMs / (2 * HEARTBEAT_SLICES)));
    this.ticker.unref();
  }

  /** ws's payload bound for this endpoint (handshake text and sealed frames). */
  get maxPayload(): number {
    return this.shared.limits.maxFrameBytes + 64 * 1024;
  }

  accept(ws: WebSocket, _request: IncomingMessage): void {
    new AgentConnection(this.shared, ws).listen();
  }

  /** Refuses the handshakes of a device whose last lookup is still in flight (revocation); open sessions are the router's. */
  disconnect(deviceId: string, code: ErrorCode): void {
    for (const connection of [...(this.shared.admitting.get(deviceId) ?? [])]) connection.refuse(new TetherError(code));
  }

  /** Closes every session with GOING_AWAY (backend shutdown). */
  close(): void {
    clearInterval(this.ticker);
    for (const session of this.shared.sessions.all()) session.close('GOING_AWAY');
  }
}

/** Sealed frames out to the socket, counted for /metrics. */
class SocketTransport implements SessionTransport {
  constructor(
    private readonly ws: WebSocket,
    private readonly counters: ControlGatewayDeps['counters'],
  ) {}

  send(frame: Buffer): void {
    this.counters?.controlFrames.inc({ direction: 'out' });
    this.ws.send(frame);
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }
}

/**
 * One agent's control socket from the upgrade to the close: the handshake, then the open
 * session as the device's {@link DeviceLink}. The backend holds tens of thousands of these, so
 * the per-connection state lives in one object with prototype methods (bound where a callback is
 * needed) rather than in a dozen closures: tsx keeps function names by defining `name` on every
 * closure it creates, which gives each closure its own property dictionary (~300 bytes).
 */
class AgentConnection implements DeviceLink {
  /** `checking`: the device's record is being read; the client has nothing to send until we answer. */
  private stage: 'hello' | 'auth' | 'checking' | 'open' | 'closed' = 'hello';
  private deviceId = '';
  // A handshake is a one-shot state machine: one per connection, dropped once the session is open.
  private handshake: ServerHandshake | null;
  private handshakeTimer: NodeJS.Timeout | undefined;
  /** Sealed frames that arrived after the client's auth, while its device was looked up (null outside that wait). */
  private early: Buffer[] | null = null;
  private session: SecureSession | null = null;
  private rpc: RpcPeer | null = null;
  streams?: LinkStreams;

  constructor(
    private readonly shared: GatewayShared,
    private readonly ws: WebSocket,
  ) {
    this.handshake = new ServerHandshake({ identityCertPem: shared.deps.identity.certPem, identityKeyPem: shared.identityKey, caCertPem: shared.caCert });
  }

  listen(): void {
    this.handshakeTimer = setTimeout(closeWith, this.shared.limits.handshakeTimeoutMs, this.ws, 'HANDSHAKE_TIMEOUT');
    this.ws.on('message', this.onSocketMessage.bind(this));
    this.ws.on('close', this.onSocketClose.bind(this));
    this.ws.on('error', this.onSocketError.bind(this));
  }

  request(method: string, params: unknown, timeoutMs?: number): Promise<unknown> {
    if (!this.rpc) return Promise.reject(new TetherError('DEVICE_OFFLINE'));
    return this.rpc.request(method, params, timeoutMs);
  }

  emit(name: string, data: unknown): void {
    this.rpc?.emit(name, data);
  }

  close(code: ErrorCode): void {
    this.session?.close(code);
  }

  private onSocketMessage(data: RawData, isBinary: boolean): void {
    try {
      if (this.stage === 'open') {
        if (!isBinary || !this.session) throw new TetherError('FRAME_MALFORMED', 'Sealed frames are binary');
        this.shared.deps.counters?.controlFrames.inc({ direction: 'in' });
        this.session.receive(toBuffer(data));
        return;
      }
      if (this.stage === 'closed') return;
      if (this.stage === 'checking' && this.early && isBinary) {
        // The client may seal frames as soon as it sent its auth; they wait for the device lookup.
        if (this.early.length >= EARLY_FRAMES_MAX) throw new TetherError('HANDSHAKE_FAILED', 'Too many frames before the session opened');
        this.early.push(toBuffer(data));
        return;
      }
      if (this.stage === 'checking') throw new TetherError('HANDSHAKE_FAILED', 'A message before the backend answered');
      if (isBinary) throw new TetherError('HANDSHAKE_FAILED', 'The handshake is JSON text');
      if (!this.handshake) throw new TetherError('HANDSHAKE_FAILED');
      const message = parseJson(toBuffer(data));
      if (this.stage === 'hello') {
        const { deviceId, serverHello } = this.handshake.onHello(message);
        this.deviceId = deviceId;
        this.stage = 'checking';
        void this.whenDeviceMayConnect(deviceId, () => {
          this.stage = 'auth';
          this.ws.send(JSON.stringify(serverHello));
        });
        return;
      }
      const auth = this.handshake.onClientAuth(message);
      this.handshake = null;
      this.deviceId = auth.deviceId;
      this.stage = 'checking';
      this.early = [];
      // Registered before the lookup starts, so a revocation committed after the read is seen by `disconnect`.
      this.admitting(auth.deviceId, true);
      void this.whenDeviceMayConnect(auth.deviceId, (record) => {
        this.admitting(auth.deviceId, false);
        // The certificate must be the one on record: an older (rotated) certificate of this device is refused.
        if (record.certFingerprint !== auth.certFingerprint256) throw new TetherError('CERT_INVALID', 'Not the certificate on record for this device');
        clearTimeout(this.handshakeTimer);
        this.handshakeTimer = undefined;
        this.stage = 'open';
        this.open(auth.deviceId, auth.established);
        this.shared.deps.counters?.controlHandshakes.inc({ result: 'accepted' });
        const early = this.early ?? [];
        this.early = null;
        for (const frame of early) this.onSocketMessage(frame, true);
      });
    } catch (err) {
      this.refuse(err);
    }
  }

  /** Closes the socket with the error's code (a database outage as STORE_UNAVAILABLE); once per connection. */
  refuse(err: unknown): void {
    if (this.stage === 'closed' || this.stage === 'open') return;
    this.stage = 'closed';
    this.admitting(this.deviceId, false);
    const coded = err instanceof TetherError ? err : storeUnavailable(err);
    const code: ErrorCode = coded?.code ?? 'HANDSHAKE_FAILED';
    if (!coded) this.shared.deps.log.warn({ err, deviceId: this.deviceId || undefined }, 'control handshake failed');
    this.shared.deps.log.info({ deviceId: this.deviceId || undefined, code }, 'control channel refused');
    this.shared.deps.counters?.controlHandshakes.inc({ result: 'refused' });
    closeWith(this.ws, code);
  }

  private admitting(deviceId: string, on: boolean): void {
    const { admitting } = this.shared;
    const set = admitting.get(deviceId);
    if (on) {
      if (set) set.add(this);
      else admitting.set(deviceId, new Set([this]));
    } else if (set?.delete(this) && set.size === 0) admitting.delete(deviceId);
  }

  /** Reads the device's record and runs `then` with it, unless the connection was refused or closed meanwhile. */
  private async whenDeviceMayConnect(deviceId: string, then: (record: DeviceRecord) => void): Promise<void> {
    try {
      const record = await this.shared.deps.devices.find(deviceId);
      if (this.stage !== 'checking') return;
      if (!record) throw new TetherError('DEVICE_UNKNOWN');
      if (record.status === 'revoked') throw new TetherError('DEVICE_REVOKED');
      if (record.status === 'pending') throw new TetherError('DEVICE_PENDING');
      then(record);
    } catch (err) {
      this.refuse(err);
    }
  }

  private open(deviceId: string, established: Established): void {
    const { deps, limits, sessions } = this.shared;
    const session = new SecureSession({
      role: 'server',
      established,
      heartbeatMs: limits.heartbeatMs,
      silenceMs: limits.silenceMs,
      maxFrameBytes: limits.maxFrameBytes,
      maxRekeysPerMinute: limits.maxRekeysPerMinute,
      transport: new SocketTransport(this.ws, deps.counters),
      onMessage: this.onSessionMessage.bind(this),
      onStream: this.onSessionStream.bind(this),
      onClose: this.onSessionClose.bind(this),
    });
    this.session = session;
    this.rpc = new RpcPeer({ send: session.send.bind(session), defaultTimeoutMs: limits.requestTimeoutMs });
    this.rpc.onEvent(this.onDeviceEvent.bind(this));
    this.streams = new LinkStreams(session.sendStream.bind(session), session.maxStreamChunkBytes);
    sessions.add(session);
    session.send({ type: 'welcome', deviceId, heartbeatMs: limits.heartbeatMs });
    deps.router.attach(deviceId, this);
    deps.presence.connected(deviceId);
    deps.log.info({ deviceId }, 'device connected');
  }

  private onSessionMessage(msg: ControlMessage): void {
    this.shared.deps.presence.seen(this.deviceId);
    this.rpc?.dispatch(msg);
  }

  private onSessionStream(streamId: number, data: Buffer): void {
    this.shared.deps.presence.seen(this.deviceId);
    if (this.streams?.deliver(streamId, data) === false) this.shared.deps.counters?.streamFramesDropped.inc();
  }

  private onDeviceEvent(name: string, data: unknown): void {
    const { onFacts, router, log } = this.shared.deps;
    if (name === 'device.facts') {
      const facts = AGENT_EVENTS['device.facts'].safeParse(data);
      // Facts are sent again on the next connection; a store failure here only delays them.
      if (facts.success) onFacts(this.deviceId, facts.data).catch((err: unknown) => log.warn({ err, deviceId: this.deviceId }, 'device facts not stored'));
    }
    router.deliver(this.deviceId, name, data);
  }

  private onSessionClose(error: TetherError | null): void {
    const { deps, sessions } = this.shared;
    if (this.session) sessions.delete(this.session);
    this.streams?.closeAll();
    this.rpc?.failAll('DEVICE_OFFLINE');
    deps.router.detach(this.deviceId, this);
    // Superseded: the newer link keeps the device online. Revoked: the router already dropped it.
    if (!deps.router.isConnected(this.deviceId)) deps.presence.disconnected(this.deviceId);
    deps.log.info({ deviceId: this.deviceId, code: error?.code }, 'device disconnected');
  }

  private onSocketClose(): void {
    clearTimeout(this.handshakeTimer);
    if (this.stage !== 'open') {
      this.stage = 'closed';
      this.admitting(this.deviceId, false);
    }
    // A socket that dies without a close frame still ends the session.
    if (this.session && !this.session.closed) this.session.close('GOING_AWAY');
  }

  private onSocketError(err: Error): void {
    this.shared.deps.log.debug({ err, deviceId: this.deviceId }, 'control socket error');
  }
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch (cause) {
    throw new TetherError('HANDSHAKE_FAILED', 'The handshake message is not JSON', { cause });
  }
}
