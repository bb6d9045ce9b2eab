import { missingCase, type DeviceStatus, type Tags } from '../../protocol/index.js';
import type { FleetEvent, FleetEvents } from './fleet-events.js';

/** What the directory holds of a device: what scoping, naming and config selection need. */
export interface DeviceEntry {
  readonly id: string;
  readonly name: string;
  readonly status: DeviceStatus;
  readonly tags: Readonly<Tags>;
}

/** Where the directory loads from at start: the device store (sync today, async once it is a port). */
export interface DeviceEntrySource {
  list(): readonly DeviceEntry[] | Promise<readonly DeviceEntry[]>;
}

/**
 * Every enrolled device's name, status and tags in memory, loaded once and then kept current by
 * fleet events, so code that runs per pushed message or per request (scope checks, config
 * selection) never queries the store. Every mutation of a device record publishes a
 * `device.upsert` (or `device.removed`); on a cluster the same events arrive over the bus.
 */
export class DeviceDirectory {
  private readonly entries = new Map<string, DeviceEntry>();
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

  get(id: string): DeviceEntry | undefined {
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

  values(): IterableIterator<DeviceEntry> {
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
      case 'device.status':
        // Online state and last-seen live in Presence; nothing held here changes.
        return;
      default:
        missingCase(event);
    }
  }

  /** Copies only the fields held, so facts and the like are not kept twice. */
  private put(device: DeviceEntry): void {
    this.entries.set(device.id, { id: device.id, name: device.name, status: device.status, tags: { ...device.tags } });
  }
}
