import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import { TELEMETRY_LIMITS, TelemetryBatch, TetherError, type ErrorCode, type TelemetryNack, type TelemetryServerMessage } from '../../protocol/index.js';
import { hashSecret } from '../auth/secrets.js';
import { closeWith } from '../http/ws-messages.js';
import type { DeviceStore } from '../devices/device-store.js';
import type { DeviceConnections } from '../devices/device-service.js';
import type { Presence } from '../devices/presence.js';
import type { IngestQueue } from './ingest-queue.js';
import type { BackendCounters } from '../ops/backend-metrics.js';

const BEARER = /^Bearer ([A-Za-z0-9_-]{1,256})$/;

/** An authenticated upgrade on its way to {@link TelemetryGateway.accept}. */
export interface TelemetryAdmission {
  readonly deviceId: string;
  /** The gateway's revocation count when the token lookup started. */
  readonly since: number;
  /** Forgets the admission (accepted, refused, or the client went away first). */
  readonly release: () => void;
}

/**
 * The telemetry channel: TLS plus the device's bearer token. Each batch is parsed and checked
 * here, handed to the {@link IngestQueue}, and acked only after the queue's transaction
 * committed; a batch that can never be stored is nacked with its code so the agent drops it
 * instead of resending it forever.
 *
 * A revocation stores the status, then calls `disconnect`. An upgrade whose token lookup read
 * the device before that commit is caught in `accept`: while any admission is outstanding,
 * `disconnect` notes the revocation with a count, and `accept` refuses a device revoked after its
 * lookup began. Sockets accepted earlier are in `sockets`, where `disconnect` closes them.
 */
export class TelemetryGateway implements DeviceConnections {
  private readonly sockets = new Map<string, Set<WebSocket>>();
  private readonly admissions = new Set<TelemetryAdmission>();
  /** Revocations counted; device id → the count at its last one, kept only while admissions are outstanding. */
  private revocations = 0;
  private readonly revokedAt = new Map<string, { at: number; code: ErrorCode }>();

  constructor(private readonly deps: { devices: Pick<DeviceStore, 'findByTelemetryHash'>; presence: Presence; ingest: IngestQueue; log: Logger; now?: () => number; counters?: Pick<BackendCounters, 'telemetryBatches'> }) {}

  /** Open telemetry sockets (for /metrics). */
  get socketCount(): number {
    let n = 0;
    for (const set of this.sockets.values()) n += set.size;
    return n;
  }

  /**
   * The socket accepts frames up to 4× the batch limit so an oversized batch gets a
   * BATCH_TOO_LARGE nack with its seq; beyond that ws closes the socket (1009).
   */
  readonly maxPayload = TELEMETRY_LIMITS.maxBatchBytes * 4;

  /** Authenticates the upgrade request; rejects with TELEMETRY_TOKEN_INVALID or DEVICE_REVOKED/PENDING. */
  async authenticate(request: IncomingMessage): Promise<TelemetryAdmission> {
    const match = BEARER.exec(request.headers.authorization ?? '');
    if (!match?.[1]) throw new TetherError('TELEMETRY_TOKEN_INVALID');
    const hash = hashSecret(match[1]);
    const socket = request.socket;
    const release = (): void => {
      socket.off('close', release);
      this.admissions.delete(admission);
      if (this.admissions.size === 0) this.revokedAt.clear();
    };
    // Outstanding from before the read, so a revocation committed after it is counted.
    const admission: TelemetryAdmission = { deviceId: '', since: this.revocations, release };
    this.admissions.add(admission);
    socket.once('close', release);
    try {
      const device = await this.deps.devices.findByTelemetryHash(hash);
      if (!device) throw new TetherError('TELEMETRY_TOKEN_INVALID');
      if (device.status === 'revoked') throw new TetherError('DEVICE_REVOKED');
      if (device.status === 'pending') throw new TetherError('DEVICE_PENDING');
      return { ...admission, deviceId: device.id };
    } catch (err) {
      release();
      throw err;
    }
  }

  accept(ws: WebSocket, admission: TelemetryAdmission): void {
    const { deviceId } = admission;
    const revoked = this.revokedAt.get(deviceId);
    admission.release();
    if (revoked && revoked.at >= admission.since) return closeWith(ws, revoked.code);
    let set = this.sockets.get(deviceId);
    if (!set) this.sockets.set(deviceId, (set = new Set()));
    set.add(ws);
    ws.on('close', () => {
      set.delete(ws);
      if (set.size === 0) this.sockets.delete(deviceId);
    });
    ws.on('error', (err) => this.deps.log.debug({ err, deviceId }, 'telemetry socket error'));
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) return closeWith(ws, 'BATCH_INVALID');
      const reply = (message: TelemetryServerMessage): void => {
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
      };
      const checked = this.check(deviceId, data);
      if (checked.type === 'nack') {
        this.deps.counters?.telemetryBatches.inc({ result: 'nacked' });
        return reply(checked);
      }
      this.deps.presence.seen(deviceId);
      this.deps.ingest.submit(deviceId, checked.batch).then(
        () => {
          this.deps.counters?.telemetryBatches.inc({ result: 'acked' });
          reply({ type: 'ack', seq: checked.batch.seq });
        },
        (err: unknown) => {
          // Not stored, so not acked: the agent keeps the batch and sends it again after reconnecting.
          this.deps.counters?.telemetryBatches.inc({ result: 'failed' });
          const code: ErrorCode = err instanceof TetherError ? err.code : 'INTERNAL';
          if (code === 'INTERNAL') this.deps.log.error({ err, deviceId }, 'telemetry batch not stored');
          closeWith(ws, code);
        },
      );
    });
  }

  /** Parses and checks one frame; a nack names why nothing of it will be stored. */
  private check(deviceId: string, data: RawData): TelemetryNack | { type: 'ok'; batch: TelemetryBatch } {
    const bytes = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data.byteLength;
    const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return { type: 'nack', seq: 0, code: 'BATCH_INVALID' };
    }
    const seq = typeof json === 'object' && json !== null && 'seq' in json && typeof json.seq === 'number' && Number.isSafeInteger(json.seq) && json.seq >= 0 ? json.seq : 0;
    const refuse = (code: ErrorCode, details?: Record<string, unknown>): TelemetryNack => {
      this.deps.log.info({ deviceId, seq, code, ...details }, 'telemetry batch refused');
      return { type: 'nack', seq, code };
    };
    if (bytes > TELEMETRY_LIMITS.maxBatchBytes) return refuse('BATCH_TOO_LARGE', { bytes });
    const parsed = TelemetryBatch.safeParse(json);
    if (!parsed.success) return refuse('BATCH_INVALID', { issues: parsed.error.issues.slice(0, 3) });
    const batch = parsed.data;
    if (batch.deviceId !== undefined && batch.deviceId !== deviceId) return refuse('BATCH_DEVICE_MISMATCH', { claimed: batch.deviceId });
    const now = (this.deps.now ?? Date.now)();
    const oldest = now - TELEMETRY_LIMITS.maxClockSkewMs;
    const newest = now + TELEMETRY_LIMITS.maxFutureSkewMs;
    for (const item of [...batch.metrics, ...batch.logs]) {
      if (item.ts < oldest || item.ts > newest) return refuse('BATCH_CLOCK_SKEW', { ts: item.ts, now });
    }
    return { type: 'ok', batch };
  }

  /** Closes every telemetry socket of a device (revocation), and refuses the upgrades of it that are being authenticated. */
  disconnect(deviceId: string, code: ErrorCode): void {
    if (this.admissions.size > 0) this.revokedAt.set(deviceId, { at: this.revocations++, code });
    for (const ws of this.sockets.get(deviceId) ?? []) closeWith(ws, code);
  }

  close(): void {
    for (const set of this.sockets.values()) for (const ws of set) closeWith(ws, 'GOING_AWAY');
  }
}
