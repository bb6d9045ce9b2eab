import { isDeepStrictEqual } from 'node:util';
import type { Device, DeviceFacts, DeviceList, DeviceListQuery, ErrorCode, Tags } from '../../protocol/index.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { DeviceRepo } from './device-repo.js';
import type { FleetEvents } from './fleet-events.js';
import type { Presence } from './presence.js';
import type { DeviceRecord } from './device-repo.js';
import { decodeDeviceCursor, encodeDeviceCursor } from './device-cursor.js';

/** Something that holds live connections of devices and can drop them. */
export interface DeviceConnections {
  disconnect(deviceId: string, code: ErrorCode): unknown;
}

/** Fleet inventory operations behind the API. */
export class DeviceService {
  constructor(
    private readonly deps: {
      repo: DeviceRepo; presence: Presence; events: FleetEvents; audit: AuditLog;
      /** Every channel kind a device may have open (control, telemetry). */
      connections: DeviceConnections[];
      now?: () => number;
    },
  ) {}

  list(): Device[] {
    return this.deps.repo.list().map((record) => this.deps.presence.view(record));
  }

  /** One page of the list in name order (every device when no limit is given); BAD_REQUEST for a bad cursor. */
  page({ limit, after }: DeviceListQuery): DeviceList {
    if (limit === undefined && after === undefined) return { devices: this.list(), nextAfter: null };
    // One row past the page tells whether another page follows.
    const records = this.deps.repo.page(after === undefined ? null : decodeDeviceCursor(after), limit === undefined ? -1 : limit + 1);
    const more = limit !== undefined && records.length > limit;
    const shown = more ? records.slice(0, limit) : records;
    const last = shown.at(-1);
    return { devices: shown.map((record) => this.deps.presence.view(record)), nextAfter: more && last ? encodeDeviceCursor(last) : null };
  }

  get(id: string): Device {
    return this.deps.presence.view(this.deps.repo.get(id));
  }

  /** Revokes a device: stored first, so no new handshake can pass, then every live channel is closed at once. */
  revoke(id: string, actor: string): Device {
    const record = this.deps.repo.setStatus(id, 'revoked', this.deps.now?.() ?? Date.now());
    for (const connections of this.deps.connections) connections.disconnect(id, 'DEVICE_REVOKED');
    this.deps.audit.record(actor, 'device.revoke', id);
    const device = this.deps.presence.view(record);
    this.deps.events.emit({ type: 'device.upsert', device });
    return device;
  }

  /**
   * Sets and removes tag keys on many devices in one transaction: an unknown id (DEVICE_UNKNOWN)
   * leaves every device as it was. `remove` is applied before `set`, so a key in both ends up set.
   */
  editTags(ids: readonly string[], change: { set?: Tags; remove?: readonly string[] }, actor: string): Device[] {
    const unique = [...new Set(ids)];
    const records = this.deps.repo.transaction(() =>
      unique.map((id) => {
        const record = this.deps.repo.get(id);
        const tags: Tags = { ...record.tags };
        for (const key of change.remove ?? []) delete tags[key];
        Object.assign(tags, change.set ?? {});
        this.deps.repo.setTags(id, tags);
        this.deps.audit.record(actor, 'device.tags', id, { set: change.set ?? {}, remove: change.remove ?? [], bulk: unique.length });
        return { ...record, tags };
      }),
    );
    return this.announce(records);
  }

  /** Revokes many devices in one transaction (all or nothing), then closes each one's channels. */
  revokeMany(ids: readonly string[], actor: string): Device[] {
    const unique = [...new Set(ids)];
    const now = this.deps.now?.() ?? Date.now();
    const records = this.deps.repo.transaction(() =>
      unique.map((id) => {
        const record = this.deps.repo.setStatus(id, 'revoked', now);
        this.deps.audit.record(actor, 'device.revoke', id, { bulk: unique.length });
        return record;
      }),
    );
    for (const id of unique) for (const connections of this.deps.connections) connections.disconnect(id, 'DEVICE_REVOKED');
    return this.announce(records);
  }

  /** Tells consoles (and config delivery, which selects layers by tag) about changed devices. */
  private announce(records: DeviceRecord[]): Device[] {
    return records.map((record) => {
      const device = this.deps.presence.view(record);
      this.deps.events.emit({ type: 'device.upsert', device });
      return device;
    });
  }

  /**
   * Stores the facts a device reports when it connects. Only a change is written and announced:
   * consoles and the device directory hear of every change of a device record, and a fleet
   * reconnecting with the same facts costs no write.
   */
  recordFacts(id: string, facts: DeviceFacts): void {
    const record = this.deps.repo.find(id);
    if (!record || isDeepStrictEqual(record.facts, facts)) return;
    this.deps.repo.setFacts(id, facts);
    this.deps.events.emit({ type: 'device.upsert', device: this.deps.presence.view({ ...record, facts }) });
  }

  /** Accepts a device that enrolled with a token requiring approval. */
  approve(id: string, actor: string): Device {
    const current = this.deps.repo.get(id);
    if (current.status !== 'pending') return this.deps.presence.view(current);
    const device = this.deps.presence.view(this.deps.repo.setStatus(id, 'active', this.deps.now?.() ?? Date.now()));
    this.deps.audit.record(actor, 'device.approve', id);
    this.deps.events.emit({ type: 'device.upsert', device });
    return device;
  }
}
