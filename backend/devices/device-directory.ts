import { missingCase, type DeviceFacts, type DeviceStatus, type Tags } from '../../protocol/index.js';
import type { FleetEvent, FleetEvents } from './fleet-events.js';
import type { DeviceViewSource } from './presence.js';

/** What the directory holds of a device: what scoping, naming and config selection need. */
export interface DeviceEntry {
  readonly id: string;
  readonly name: string;
  readonly status: DeviceStatus;
  readonly tags: Readonly<Tags>;
}

/**
 * What the directory holds beyond the entry: enough for {@link Presence.view} to make the API view,
 * so jobs and alerts read the fleet from memory. Facts are the record's own object, shared, not copied.
 */
export interface DirectoryDevice extends DeviceEntry {
  readonly facts: Readonly<DeviceFacts> | null;
  readonly createdAt: number;
  /** As stored, or as the last `device.status` told; Presence knows newer times of devices seen here. */
  readonly lastSeen: number | null;
}

/** A device as the directory loads it: the store gives every field; the rest default to unknown (null, 0). */
export type DeviceEntrySourceItem = DeviceEntry & Partial<Pick<DeviceViewSource, 'facts' | 'createdAt' | 'lastSeen'>>;

/** Where the directory loads from at start: the device store. */
export interface DeviceEntrySource {
  list(): readonly DeviceEntrySourceItem[] | Promise<readonly DeviceEntrySourceItem[]>;
}

/**
 * Every enrolled device's name, status and tags in memory (and what the API view needs besides
 * online state), loaded once and then kept current by fleet events, so code that runs per pushed
 * message or per request (scope checks, config selection, job selection, alert passes) never
 * queries the store. Every mutation of a device record publishes a
 * `device.upsert` (or `device.removed`); on a cluster the same events arrive over the bus.
 */
export class DeviceDirectory {
  private readonly entries = new Map<string, DirectoryDevice>();
  private unsubscribe: () => void = () => undefined;

  private constructor() {}

  /**
   * Subscribes before reading the store, and replays what arrived meanwhile over what was read,
   * so a change made while the list was loading is not lost.
   */
  static async load(source: DeviceEntrySource, events: FleetEvents): Promise<DeviceDirectory> {
    const directory = new DeviceDirectory();
    const early: FleetEvent[] = [];
    let loaded = false;
    directory.unsubscribe = events.subscribe((event) => (loaded ? directory.apply(event) : early.push(event)));
    try {
      for (const entry of await source.list()) directory.put(entry);
    } catch (err) {
      directory.close();
      throw err;
    }
    loaded = true;
    for (const event of early) directory.apply(event);
    return directory;
  }

  get(id: string): DirectoryDevice | undefined {
    return this.entries.get(id);
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  tagsOf(id: string): Tags | undefined {
    return this.entries.get(id)?.tags;
  }

  nameOf(id: string): string | undefined {
    return this.entries.get(id)?.name;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The ids known now, as a copy: callers may work through it across event-loop turns. */
  ids(): string[] {
    return [...this.entries.keys()];
  }

  values(): IterableIterator<DirectoryDevice> {
    return this.entries.values();
  }

  close(): void {
    this.unsubscribe();
  }

  private apply(event: FleetEvent): void {
    switch (event.type) {
      case 'device.upsert':
        this.put(event.device);
        return;
      case 'device.removed':
        this.entries.delete(event.id);
        return;
      case 'device.status': {
        // Online state lives in Presence; the time is kept for devices Presence has not seen (another node's).
        const entry = this.entries.get(event.id);
        if (entry && event.lastSeen !== null && (entry.lastSeen ?? -Infinity) < event.lastSeen) this.entries.set(event.id, { ...entry, lastSeen: event.lastSeen });
        return;
      }
      default:
        missingCase(event);
    }
  }

  /** Copies only the fields held (facts by reference), so nothing else of an API view or record is kept. */
  private put(device: DeviceEntrySourceItem): void {
    this.entries.set(device.id, {
      id: device.id, name: device.name, status: device.status, tags: { ...device.tags },
      facts: device.facts ?? null, createdAt: device.createdAt ?? 0, lastSeen: device.lastSeen ?? null,
    });
  }
}
