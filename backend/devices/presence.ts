import type { Device } from '../../protocol/index.js';
import type { DeviceRecord, DeviceRepo } from './device-repo.js';
import type { FleetEvents } from './fleet-events.js';

/**
 * Online state and last-seen times. Kept in memory on the hot path (every frame touches it)
 * and written to the database in batches, so 10,000 chatty devices cost no write per frame.
 */
export class Presence {
  private readonly online = new Set<string>();
  private readonly lastSeen = new Map<string, number>();
  private readonly dirty = new Set<string>();

  constructor(private readonly repo: DeviceRepo, private readonly events: FleetEvents, private readonly now: () => number = Date.now) {}

  isOnline(id: string): boolean {
    return this.online.has(id);
  }

  onlineCount(): number {
    return this.online.size;
  }

  connected(id: string): void {
    this.online.add(id);
    this.seen(id);
    this.events.emit({ type: 'device.status', id, online: true, lastSeen: this.lastSeen.get(id) ?? null });
  }

  disconnected(id: string): void {
    if (!this.online.delete(id)) return;
    this.seen(id);
    this.flush();
    this.events.emit({ type: 'device.status', id, online: false, lastSeen: this.lastSeen.get(id) ?? null });
  }

  seen(id: string): void {
    this.lastSeen.set(id, this.now());
    this.dirty.add(id);
  }

  flush(): void {
    if (this.dirty.size === 0) return;
    const entries: Array<[string, number]> = [];
    for (const id of this.dirty) entries.push([id, this.lastSeen.get(id) ?? this.now()]);
    this.dirty.clear();
    this.repo.saveLastSeen(entries);
  }

  /** The API view of a device: stored record plus live presence. */
  view(record: DeviceRecord): Device {
    return {
      id: record.id, name: record.name, status: record.status, tags: record.tags, facts: record.facts,
      createdAt: record.createdAt, online: this.online.has(record.id),
      lastSeen: this.lastSeen.get(record.id) ?? record.lastSeen,
    };
  }
}
