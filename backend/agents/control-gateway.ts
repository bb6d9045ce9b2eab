import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import { ServerHandshake } from '../../channel/handshake.js';
import { RpcPeer } from '../../channel/rpc.js';
import { DEFAULT_MAX_REKEYS_PER_MINUTE, SecureSession } from '../../channel/secure-session.js';
import { AGENT_EVENTS, ERRORS, TetherError, type ControlMessage, type ErrorCode } from '../../protocol/index.js';
import type { DeviceLink, LocalDeviceRouter } from '../devices/device-router.js';
import { LinkStreams } from '../devices/link-streams.js';
import type { DeviceRepo } from '../devices/device-repo.js';
import type { Presence } from '../devices/presence.js';
import type { BackendCounters } from '../ops/backend-metrics.js';

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

/** Test knob, like the agent's TETHER_REKEY_* variables: TETHER_MAX_REKEYS_PER_MINUTE. */
export function controlLimitsFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<ControlChannelLimits> {
  const rekeys = Number(env.TETHER_MAX_REKEYS_PER_MINUTE);
  return Number.isInteger(rekeys) && rekeys > 0 ? { maxRekeysPerMinute: rekeys } : {};
}

export interface ControlGatewayDeps {
  identity: { certPem: string; keyPem: string };
  caCertPem: string;
  devices: DeviceRepo;
  presence: Presence;
  router: LocalDeviceRouter;
  log: Logger;
  limits?: Partial<ControlChannelLimits>;
  /** /metrics counters this gateway moves. */
  counters?: Pick<BackendCounters, 'controlFrames' | 'controlHandshakes'>;
}

/** Closes a socket with a stable code: the WebSocket close code from ERRORS and the code string as reason. */
export function closeWith(ws: WebSocket, code: ErrorCode): void {
  if (ws.readyState === ws.CLOSED || ws.readyState === ws.CLOSING) return;
  ws.close(ERRORS[code].close, code);
}

/**
 * Accepts agents' control channels: runs the signed handshake, checks the device's record
 * (unknown, pending, revoked, certificate of record), then relays sealed frames between
 * the device's {@link SecureSession} and the {@link LocalDeviceRouter}.
 */
export class ControlGateway {
  private readonly limits: ControlChannelLimits;
  private readonly sessions = new Set<SecureSession>();
  private readonly ticker: NodeJS.Timeout;
  private readonly identityKey: KeyObject;
  private readonly caCert: X509Certificate;

  constructor(private readonly deps: ControlGatewayDeps) {
    this.limits = { ...DEFAULT_CONTROL_LIMITS, ...deps.limits };
    // Parsed once: per handshake they would be native allocations that fragment the heap under a connect storm.
    this.identityKey = createPrivateKey(deps.identity.keyPem);
    this.caCert = new X509Certificate(deps.caCertPem);
    // One timer drives the heartbeats of every session: 10,000 agents must not mean 10,000 timers.
    this.ticker = setInterval(() => this.tick(), Math.min(1000, this.limits.heartbeatMs / 2));
    this.ticker.unref();
  }

  /** ws's payload bound for this endpoint (handshake text and sealed frames). */
  get maxPayload(): number {
    return this.limits.maxFrameBytes + 64 * 1024;
  }

  accept(ws: WebSocket, _request: IncomingMessage): void {
    const { log } = this.deps;
    let stage: 'hello' | 'auth' | 'open' = 'hello';
    let deviceId = '';
    let session: SecureSession | null = null;
    // A handshake is a one-shot state machine: one per connection, dropped once the session is open.
    let handshake: ServerHandshake | null = new ServerHandshake({ identityCertPem: this.deps.identity.certPem, identityKeyPem: this.identityKey, caCertPem: this.caCert });
    let handshakeTimer: NodeJS.Timeout | undefined = setTimeout(() => closeWith(ws, 'HANDSHAKE_TIMEOUT'), this.limits.handshakeTimeoutMs);

    const refuse = (err: unknown): void => {
      const code: ErrorCode = err instanceof TetherError ? err.code : 'HANDSHAKE_FAILED';
      log.info({ deviceId: deviceId || undefined, code }, 'control channel refused');
      this.deps.counters?.controlHandshakes.inc({ result: 'refused' });
      closeWith(ws, code);
    };

    ws.on('message', (data: RawData, isBinary: boolean) => {
      try {
        if (stage === 'open') {
          if (!isBinary || !session) throw new TetherError('FRAME_MALFORMED', 'Sealed frames are binary');
          this.deps.counters?.controlFrames.inc({ direction: 'in' });
          session.receive(toBuffer(data));
          return;
        }
        if (isBinary) throw new TetherError('HANDSHAKE_FAILED', 'The handshake is JSON text');
        const message = parseJson(toBuffer(data));
        if (stage === 'hello') {
          if (!handshake) throw new TetherError('HANDSHAKE_FAILED');
          const { deviceId: id, serverHello } = handshake.onHello(message);
          deviceId = id;
          this.checkDeviceMayConnect(id);
          stage = 'auth';
          ws.send(JSON.stringify(serverHello));
          return;
        }
        if (!handshake) throw new TetherError('HANDSHAKE_FAILED');
        const auth = handshake.onClientAuth(message);
        handshake = null;
        // The certificate must be the one on record: an older (rotated) certificate of this device is refused.
        const record = this.checkDeviceMayConnect(auth.deviceId);
        if (record.certFingerprint !== auth.certFingerprint256) throw new TetherError('CERT_INVALID', 'Not the certificate on record for this device');
        clearTimeout(handshakeTimer);
        handshakeTimer = undefined;
        stage = 'open';
        session = this.open(ws, auth.deviceId, auth.established);
        this.deps.counters?.controlHandshakes.inc({ result: 'accepted' });
      } catch (err) {
        refuse(err);
      }
    });
    ws.on('close', () => clearTimeout(handshakeTimer));
    ws.on('error', (err) => log.debug({ err, deviceId }, 'control socket error'));
  }

  private checkDeviceMayConnect(deviceId: string) {
    const record = this.deps.devices.find(deviceId);
    if (!record) throw new TetherError('DEVICE_UNKNOWN');
    if (record.status === 'revoked') throw new TetherError('DEVICE_REVOKED');
    if (record.status === 'pending') throw new TetherError('DEVICE_PENDING');
    return record;
  }

  private open(ws: WebSocket, deviceId: string, established: ConstructorParameters<typeof SecureSession>[0]['established']): SecureSession {
    const { router, presence, devices, log } = this.deps;
    let rpc: RpcPeer | null = null;
    let streams: LinkStreams | null = null;
    const session: SecureSession = new SecureSession({
      role: 'server',
      established,
      heartbeatMs: this.limits.heartbeatMs,
      silenceMs: this.limits.silenceMs,
      maxFrameBytes: this.limits.maxFrameBytes,
      maxRekeysPerMinute: this.limits.maxRekeysPerMinute,
      transport: {
        send: (frame) => {
          this.deps.counters?.controlFrames.inc({ direction: 'out' });
          ws.send(frame);
        },
        close: (code, reason) => ws.close(code, reason),
      },
      onMessage: (msg: ControlMessage) => {
        presence.seen(deviceId);
        rpc?.dispatch(msg);
      },
      onStream: (streamId, data) => {
        presence.seen(deviceId);
        streams?.deliver(streamId, data);
      },
      onClose: (error) => {
        this.sessions.delete(session);
        streams?.closeAll();
        rpc?.failAll('DEVICE_OFFLINE');
        router.detach(deviceId, link);
        // Superseded: the newer link keeps the device online. Revoked: the router already dropped it.
        if (!router.isConnected(deviceId)) presence.disconnected(deviceId);
        log.info({ deviceId, code: error?.code }, 'device disconnected');
      },
    });
    rpc = new RpcPeer({ send: (msg) => session.send(msg), defaultTimeoutMs: this.limits.requestTimeoutMs });
    rpc.onEvent((name, data) => {
      if (name === 'device.facts') {
        const facts = AGENT_EVENTS['device.facts'].safeParse(data);
        if (facts.success) devices.setFacts(deviceId, facts.data);
      }
      router.deliver(deviceId, name, data);
    });
    const peer = rpc;
    streams = new LinkStreams((id, data) => session.sendStream(id, data), session.maxStreamChunkBytes);
    const link: DeviceLink = {
      streams,
      request: (method, params, timeoutMs) => peer.request(method, params, timeoutMs),
      emit: (name, data) => peer.emit(name, data),
      close: (code) => session.close(code),
    };
    // A socket that dies without a close frame still ends the session.
    ws.on('close', () => {
      if (!session.closed) session.close('GOING_AWAY');
    });
    this.sessions.add(session);
    session.send({ type: 'welcome', deviceId, heartbeatMs: this.limits.heartbeatMs });
    router.attach(deviceId, link);
    presence.connected(deviceId);
    log.info({ deviceId }, 'device connected');
    return session;
  }

  private tick(): void {
    const now = Date.now();
    for (const session of this.sessions) session.tick(now);
  }

  /** Closes every session with GOING_AWAY (backend shutdown). */
  close(): void {
    clearInterval(this.ticker);
    for (const session of [...this.sessions]) session.close('GOING_AWAY');
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch (cause) {
    throw new TetherError('HANDSHAKE_FAILED', 'The handshake message is not JSON', { cause });
  }
}
