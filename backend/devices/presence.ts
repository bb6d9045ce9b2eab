import type { Device } from '../../protocol/index.js';
import type { DeviceRecord, DeviceStore } from './device-store.js';
import type { FleetEvents } from './fleet-events.js';

/** What {@link Presence.view} reads of a stored device. */
export type DeviceViewSource = Pick<DeviceRecord, 'id' | 'name' | 'status' | 'tags' | 'facts' | 'createdAt' | 'lastSeen'>;

/** Last-seen times written per statement and per turn of the event loop. */
const FLUSH_BATCH = 500;

/**
 * Online state and last-seen times. Kept in memory on the hot path (every frame touches it)
 * and written to the database in batches, so 10,000 chatty devices cost no write per frame.
 */
export class Presence {
  private readonly online = new Set<string>();
  private readonly lastSeen = new Map<string, number>();
  private readonly dirty = new Set<string>();
  private flushing: Promise<void> | null = null;

  constructor(private readonly store: Pick<DeviceStore, 'saveLastSeen'>, private readonly events: FleetEvents, private readonly now: () => number = Date.now) {}

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

  /** Marks a device offline and starts writing its last-seen (a failed write is retried by the next flush). */
  disconnected(id: string): void {
    if (!this.online.delete(id)) return;
    this.seen(id);
    void this.flush().catch(() => undefined);
    this.events.emit({ type: 'device.status', id, online: false, lastSeen: this.lastSeen.get(id) ?? null });
  }

  seen(id: string): void {
    this.lastSeen.set(id, this.now());
    this.dirty.add(id);
  }

  /**
   * Writes every last-seen time that changed since the previous write, a batch per turn of the
   * event loop (with 10,000 devices online nearly all are dirty, and one write of them all would
   * hold the loop). Entries stay dirty until their write succeeded, so a failed write (the
   * database away) loses nothing: the next flush sends them again, with whatever newer time they
   * have by then. Flushes run one at a time; a call while one runs waits for it and then writes
   * what is left.
   */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing.catch(() => undefined);
    if (this.dirty.size === 0) return;
    const entries: Array<[string, number]> = [];
    for (const id of this.dirty) entries.push([id, this.lastSeen.get(id) ?? this.now()]);
    this.dirty.clear();
    const write = this.writeBatches(entries);
    this.flushing = write;
    try {
      await write;
    } finally {
      this.flushing = null;
    }
  }

  private async writeBatches(entries: ReadonlyArray<[string, number]>): Promise<void> {
    for (let i = 0; i < entries.length; i += FLUSH_BATCH) {
      if (i > 0) await new Promise((resolve) => setImmediate(resolve));
      try {
        await this.store.saveLastSeen(entries.slice(i, i + FLUSH_BATCH));
      } catch (err) {
        // Seen again meanwhile means dirty already, with a newer time: nothing to put back then.
        for (const [id] of entries.slice(i)) this.dirty.add(id);
        throw err;
      }
    }
  }

  /** The API view of a device: stored record plus live presence. */
  view(record: DeviceViewSource): Device {
    return {
      id: record.id, name: record.name, status: record.status, tags: record.tags, facts: record.facts,
      createdAt: record.createdAt, online: this.online.has(record.id),
      lastSeen: this.lastSeen.get(record.id) ?? record.lastSeen,
    };
  }
}
