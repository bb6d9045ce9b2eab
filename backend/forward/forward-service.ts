import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { ERRORS, FORWARD_AGENT_EVENTS, TetherError, type ErrorCode, type User } from '../../protocol/index.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { DeviceRouter } from '../devices/device-router.js';
import type { DeviceStream } from '../devices/link-streams.js';
import { DeviceSocket } from './device-socket.js';

export interface ForwardLimits {
  /** Open connections (TCP forwards and relay connections together) per device and per user. */
  maxPerDevice: number;
  maxPerUser: number;
  /** The agent connects within 8 s; this covers its answer. */
  openTimeoutMs: number;
}

export const DEFAULT_FORWARD_LIMITS: ForwardLimits = { maxPerDevice: 256, maxPerUser: 256, openTimeoutMs: 12_000 };

export interface ForwardServiceDeps {
  router: DeviceRouter;
  audit: AuditLog;
  log: Logger;
  limits?: Partial<ForwardLimits>;
  now?: () => number;
}

/** `tcp`: a forward socket of the CLI or the desktop app; `relay`: a connection of the web relay. */
export type ForwardKind = 'tcp' | 'relay';

export interface ForwardTarget {
  host: string;
  port: number;
}

interface Forward {
  readonly id: string;
  readonly kind: ForwardKind;
  readonly deviceId: string;
  readonly user: User;
  readonly target: ForwardTarget;
  readonly startedAt: number;
  readonly socket: DeviceSocket;
  readonly stream: DeviceStream;
}

/** The stable code of whatever a device request failed with. */
export function errorCodeOf(err: unknown): ErrorCode {
  if (err instanceof TetherError) return err.code;
  const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
  return typeof code === 'string' && Object.hasOwn(ERRORS, code) ? (code as ErrorCode) : 'INTERNAL';
}

/**
 * TCP connections on devices for the operators' side: each is a device stream opened with
 * `forward.open`, exposed as a {@link DeviceSocket}. Counts and bounds them, routes the agent's
 * forward events to them, and writes each one to the audit log when it opens and when it ends
 * (with its byte counts).
 */
export class ForwardService {
  private readonly limits: ForwardLimits;
  private readonly forwards = new Map<string, Forward>();
  /** `${deviceId}:${streamId}`: events are looked up by the device that sent them. */
  private readonly byStream = new Map<string, Forward>();
  private readonly unsubscribe: () => void;
  private readonly now: () => number;
  private readonly ending = new Set<Promise<void>>();

  constructor(private readonly deps: ForwardServiceDeps) {
    this.limits = { ...DEFAULT_FORWARD_LIMITS, ...deps.limits };
    this.now = deps.now ?? Date.now;
    this.unsubscribe = deps.router.subscribe('*', (deviceId, name, data) => this.onDeviceEvent(deviceId, name, data));
  }

  get openCount(): number {
    return this.forwards.size;
  }

  /** Upgrade-time checks, so a refused forward gets an HTTP answer with a stable code. */
  check(user: User, deviceId: string): void {
    if (!this.deps.router.isConnected(deviceId)) throw new TetherError('DEVICE_OFFLINE');
    let perDevice = 0;
    let perUser = 0;
    for (const f of this.forwards.values()) {
      if (f.deviceId === deviceId) perDevice++;
      if (f.user.id === user.id) perUser++;
    }
    if (perDevice >= this.limits.maxPerDevice) throw new TetherError('FORWARD_LIMIT', 'Too many forwarded connections to this device');
    if (perUser >= this.limits.maxPerUser) throw new TetherError('FORWARD_LIMIT', 'Too many forwarded connections for this user');
  }

  /**
   * Connects to `target` on the device. Resolves once the device connected; rejects with the
   * device's code (FORWARD_NOT_ALLOWED, FORWARD_REFUSED, ...), which is audited as `forward.refused`.
   */
  async open(user: User, deviceId: string, target: ForwardTarget, kind: ForwardKind): Promise<{ id: string; socket: DeviceSocket }> {
    this.check(user, deviceId);
    const { router, audit, log } = this.deps;
    const id = randomUUID();
    const actor = `user:${user.username}`;
    let forward: Forward | null = null;
    let streamId = 0;
    const socket = new DeviceSocket({
      send: (data) => stream.send(data),
      ack: (bytes) => router.publish([deviceId], 'forward.ack', { streamId, bytes }),
      end: () => router.publish([deviceId], 'forward.end', { streamId }),
      close: (deviceClosed) => {
        stream.close();
        this.byStream.delete(`${deviceId}:${streamId}`);
        if (!deviceClosed) router.request(deviceId, 'forward.close', { streamId }).catch(() => undefined);
        if (forward) this.ended(forward);
      },
    });
    // Errors are read from `errorCode` by whoever holds the socket; an unheard 'error' event must not crash the backend.
    socket.on('error', () => undefined);
    const stream = await router.openStream(deviceId, {
      onData: (data) => socket.deviceData(data),
      onLinkClosed: () => socket.deviceGone('DEVICE_OFFLINE'),
    });
    streamId = stream.id;
    const pending: Forward = { id, kind, deviceId, user, target, startedAt: this.now(), socket, stream };
    this.byStream.set(`${deviceId}:${streamId}`, pending);
    try {
      await router.request(deviceId, 'forward.open', { streamId, host: target.host, port: target.port }, this.limits.openTimeoutMs);
    } catch (err) {
      const code = errorCodeOf(err);
      // Also after a refusal: an agent that timed out on the answer may connect later.
      socket.destroy();
      await audit.record(actor, 'forward.refused', deviceId, { kind, host: target.host, port: target.port, code }).catch((e: unknown) => log.error({ err: e }, 'could not audit a refused forward'));
      throw err instanceof TetherError ? err : new TetherError(code, err instanceof Error ? err.message : undefined);
    }
    if (socket.destroyed) throw new TetherError(socket.errorCode ?? 'FORWARD_RESET');
    forward = pending;
    this.forwards.set(id, forward);
    await audit.record(actor, 'forward.open', deviceId, { forwardId: id, kind, host: target.host, port: target.port });
    log.info({ forwardId: id, deviceId, kind, host: target.host, port: target.port, user: user.username }, 'forward opened');
    return { id, socket };
  }

  /** Ends every forward of a user whose sessions ended. */
  endUser(userId: number): void {
    for (const f of [...this.forwards.values()]) if (f.user.id === userId) f.socket.destroy(new TetherError('SESSION_INVALID'));
  }

  private onDeviceEvent(deviceId: string, name: string, data: unknown): void {
    switch (name) {
      case 'forward.ack': {
        const ack = FORWARD_AGENT_EVENTS['forward.ack'].safeParse(data);
        if (ack.success) this.byStream.get(`${deviceId}:${ack.data.streamId}`)?.socket.deviceAcked(ack.data.bytes);
        return;
      }
      case 'forward.end': {
        const end = FORWARD_AGENT_EVENTS['forward.end'].safeParse(data);
        if (end.success) this.byStream.get(`${deviceId}:${end.data.streamId}`)?.socket.deviceEnded();
        return;
      }
      case 'forward.closed': {
        const closed = FORWARD_AGENT_EVENTS['forward.closed'].safeParse(data);
        if (closed.success) this.byStream.get(`${deviceId}:${closed.data.streamId}`)?.socket.deviceGone(closed.data.code, closed.data.message);
        return;
      }
      default:
    }
  }

  private ended(forward: Forward): void {
    if (!this.forwards.delete(forward.id)) return;
    const { socket } = forward;
    const details = {
      forwardId: forward.id, kind: forward.kind, host: forward.target.host, port: forward.target.port,
      bytesIn: socket.bytesIn, bytesOut: socket.bytesOut, durationMs: this.now() - forward.startedAt, code: socket.errorCode,
    };
    this.deps.log.info({ deviceId: forward.deviceId, ...details }, 'forward closed');
    const ending = this.deps.audit.record(`user:${forward.user.username}`, 'forward.close', forward.deviceId, details)
      .catch((err: unknown) => this.deps.log.error({ err, forwardId: forward.id }, 'could not audit the end of a forward'))
      .finally(() => this.ending.delete(ending));
    this.ending.add(ending);
  }

  /** Ends every forward and waits until their ends are audited. */
  async close(): Promise<void> {
    this.unsubscribe();
    for (const f of [...this.forwards.values()]) f.socket.destroy(new TetherError('GOING_AWAY'));
    await Promise.all([...this.ending]);
  }
}
