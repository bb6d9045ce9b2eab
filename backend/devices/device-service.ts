import { isDeepStrictEqual } from 'node:util';
import { TetherError, type Device, type DeviceFacts, type DeviceList, type DeviceListQuery, type ErrorCode, type Tags } from '../../protocol/index.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { Stores } from '../store/stores.js';
import type { DeviceRecord } from './device-store.js';
import type { FleetEvents } from './fleet-events.js';
import type { Presence } from './presence.js';
import { decodeDeviceCursor, encodeDeviceCursor } from './device-cursor.js';

/** Something that holds live connections of devices (or connections on their way in) and can drop them. */
export interface DeviceConnections {
  disconnect(deviceId: string, code: ErrorCode): unknown;
}

/** Every status a device may be revoked from: revoking a revoked device changes (and audits) nothing. */
const REVOCABLE = ['pending', 'active'] as const;

/**
 * Fleet inventory operations behind the API. Every change is written with its audit entry in one
 * transaction, and status changes are compare-and-set in the store, so two admins racing (approve
 * against revoke) cannot both move a device out of the status they saw.
 */
export class DeviceService {
  constructor(
    private readonly deps: {
      stores: Stores; presence: Presence; events: FleetEvents; audit: AuditLog;
      /** Every channel kind a device may have open (control, telemetry), and handshakes in progress. */
      connections: DeviceConnections[];
      now?: () => number;
    },
  ) {}

  async list(): Promise<Device[]> {
    return (await this.deps.stores.devices.list()).map((record) => this.deps.presence.view(record));
  }

  /** One page of the list in name order (every device when no limit is given); BAD_REQUEST for a bad cursor. */
  async page({ limit, after }: DeviceListQuery): Promise<DeviceList> {
    if (limit === undefined && after === undefined) return { devices: await this.list(), nextAfter: null };
    // One row past the page tells whether another page follows.
    const records = await this.deps.stores.devices.page(after === undefined ? null : decodeDeviceCursor(after), limit === undefined ? -1 : limit + 1);
    const more = limit !== undefined && records.length > limit;
    const shown = more ? records.slice(0, limit) : records;
    const last = shown.at(-1);
    return { devices: shown.map((record) => this.deps.presence.view(record)), nextAfter: more && last ? encodeDeviceCursor(last) : null };
  }

  async get(id: string): Promise<Device> {
    return this.deps.presence.view(await this.record(id));
  }

  /**
   * Revokes a device: stored first, so no handshake that looks the device up after it can pass,
   * then every live channel and every handshake in progress is closed at once.
   */
  async revoke(id: string, actor: string): Promise<Device> {
    const [device] = await this.revokeAll([id], actor, {});
    if (!device) throw new Error(`revoking ${id} returned nothing`);
    return device;
  }

  /** Revokes many devices in one transaction (all or nothing: DEVICE_UNKNOWN for an unknown id), then closes each one's channels. */
  revokeMany(ids: readonly string[], actor: string): Promise<Device[]> {
    const unique = [...new Set(ids)];
    return this.revokeAll(unique, actor, { bulk: unique.length });
  }

  private async revokeAll(ids: readonly string[], actor: string, details: Record<string, unknown>): Promise<Device[]> {
    const now = this.now();
    const { records, changed } = await this.deps.stores.transaction(async (tx) => {
      const records: DeviceRecord[] = [];
      const changed: DeviceRecord[] = [];
      for (const id of ids) {
        const revoked = await tx.devices.setStatus(id, 'revoked', now, REVOCABLE);
        if (revoked) {
          await this.deps.audit.record(actor, 'device.revoke', id, details, tx);
          changed.push(revoked);
        }
        records.push(revoked ?? (await this.record(id, tx)));
      }
      return { records, changed };
    });
    // Also for a device that was revoked already: closing is harmless, and a channel never outlives a revocation.
    for (const id of ids) for (const connections of this.deps.connections) connections.disconnect(id, 'DEVICE_REVOKED');
    const devices = records.map((record) => this.deps.presence.view(record));
    this.announce(changed);
    return devices;
  }

  /** Accepts a device that enrolled with a token requiring approval; any other device is returned as it is. */
  async approve(id: string, actor: string): Promise<Device> {
    const { record, changed } = await this.deps.stores.transaction(async (tx) => {
      const approved = await tx.devices.setStatus(id, 'active', this.now(), ['pending']);
      if (!approved) return { record: await this.record(id, tx), changed: false };
      await this.deps.audit.record(actor, 'device.approve', id, {}, tx);
      return { record: approved, changed: true };
    });
    const device = this.deps.presence.view(record);
    if (changed) this.deps.events.emit({ type: 'device.upsert', device });
    return device;
  }

  /**
   * Sets and removes tag keys on many devices in one transaction: an unknown id (DEVICE_UNKNOWN)
   * leaves every device as it was. `remove` is applied before `set`, so a key in both ends up set.
   * Each device's change is one statement, so concurrent edits of different keys both hold.
   */
  async editTags(ids: readonly string[], change: { set?: Tags; remove?: readonly string[] }, actor: string): Promise<Device[]> {
    const unique = [...new Set(ids)];
    const records = await this.deps.stores.transaction(async (tx) => {
      const records: DeviceRecord[] = [];
      for (const id of unique) {
        const record = await tx.devices.updateTags(id, change);
        if (!record) throw unknown(id);
        await this.deps.audit.record(actor, 'device.tags', id, { set: change.set ?? {}, remove: change.remove ?? [], bulk: unique.length }, tx);
        records.push(record);
      }
      return records;
    });
    return this.announce(records);
  }

  /**
   * Stores the facts a device reports when it connects. Only a change is written and announced:
   * consoles and the device directory hear of every change of a device record, and a fleet
   * reconnecting with the same facts costs no write.
   */
  async recordFacts(id: string, facts: DeviceFacts): Promise<void> {
    const record = await this.deps.stores.devices.find(id);
    if (!record || isDeepStrictEqual(record.facts, facts)) return;
    await this.deps.stores.devices.setFacts(id, facts);
    this.deps.events.emit({ type: 'device.upsert', device: this.deps.presence.view({ ...record, facts }) });
  }

  /** Tells consoles (and config delivery, which selects layers by tag) about changed devices. */
  private announce(records: readonly DeviceRecord[]): Device[] {
    return records.map((record) => {
      const device = this.deps.presence.view(record);
      this.deps.events.emit({ type: 'device.upsert', device });
      return device;
    });
  }

  private async record(id: string, stores: Pick<Stores, 'devices'> = this.deps.stores): Promise<DeviceRecord> {
    const record = await stores.devices.find(id);
    if (!record) throw unknown(id);
    return record;
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }
}

function unknown(id: string): TetherError {
  return new TetherError('DEVICE_UNKNOWN', `No device ${id}`);
}
