import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import { TELEMETRY_LIMITS, TelemetryBatch, TetherError, type ErrorCode, type TelemetryServerMessage } from '../../protocol/index.js';
import { hashSecret } from '../auth/secrets.js';
import { closeWith } from '../agents/control-gateway.js';
import type { DeviceRepo } from '../devices/device-repo.js';
import type { Presence } from '../devices/presence.js';
import type { TelemetryStore } from './telemetry-store.js';

const BEARER = /^Bearer ([A-Za-z0-9_-]{1,256})$/;

/**
 * The telemetry channel: TLS plus the device's bearer token. Each batch is parsed, stored in
 * one transaction, and only then acked; a batch that can never be stored is nacked so the
 * agent drops it instead of resending it forever.
 */
export class TelemetryGateway {
  private readonly sockets = new Map<string, Set<WebSocket>>();

  constructor(private readonly deps: { devices: DeviceRepo; presence: Presence; store: TelemetryStore; log: Logger }) {}

  readonly maxPayload = TELEMETRY_LIMITS.maxBatchBytes;

  /** Authenticates the upgrade request; throws TELEMETRY_TOKEN_INVALID or DEVICE_REVOKED/PENDING. */
  authenticate(request: IncomingMessage): string {
    const match = BEARER.exec(request.headers.authorization ?? '');
    if (!match?.[1]) throw new TetherError('TELEMETRY_TOKEN_INVALID');
    const device = this.deps.devices.findByTelemetryHash(hashSecret(match[1]));
    if (!device) throw new TetherError('TELEMETRY_TOKEN_INVALID');
    if (device.status === 'revoked') throw new TetherError('DEVICE_REVOKED');
    if (device.status === 'pending') throw new TetherError('DEVICE_PENDING');
    return device.id;
  }

  accept(ws: WebSocket, deviceId: string): void {
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
      try {
        ws.send(JSON.stringify(this.handle(deviceId, data.toString())));
      } catch (err) {
        // Not stored, so not acked: the agent keeps the batch and sends it again after reconnecting.
        this.deps.log.error({ err, deviceId }, 'telemetry batch not stored');
        closeWith(ws, 'INTERNAL');
      }
    });
  }

  private handle(deviceId: string, text: string): TelemetryServerMessage {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return { type: 'nack', seq: 0, code: 'BATCH_INVALID' };
    }
    const parsed = TelemetryBatch.safeParse(json);
    if (!parsed.success) {
      const seq = typeof json === 'object' && json !== null && 'seq' in json && typeof json.seq === 'number' ? json.seq : 0;
      this.deps.log.info({ deviceId, seq, issues: parsed.error.issues.slice(0, 3) }, 'telemetry batch refused');
      return { type: 'nack', seq, code: 'BATCH_INVALID' };
    }
    this.deps.store.store(deviceId, parsed.data);
    this.deps.presence.seen(deviceId);
    return { type: 'ack', seq: parsed.data.seq };
  }

  /** Closes every telemetry socket of a device (revocation). */
  disconnect(deviceId: string, code: ErrorCode): void {
    for (const ws of this.sockets.get(deviceId) ?? []) closeWith(ws, code);
  }

  close(): void {
    for (const set of this.sockets.values()) for (const ws of set) closeWith(ws, 'GOING_AWAY');
  }
}
