import type { DeviceFacts, DeviceStatus, Tags } from '../../protocol/index.js';

export interface DeviceRecord {
  id: string;
  name: string;
  status: DeviceStatus;
  certFingerprint: string;
  tags: Tags;
  facts: DeviceFacts | null;
  createdAt: number;
  lastSeen: number | null;
}

/** A place in the device list's (name, id) order: the last device of a page. */
export interface DeviceListPosition {
  name: string;
  id: string;
}

export interface NewDevice {
  id: string;
  name: string;
  status: DeviceStatus;
  certFingerprint: string;
  telemetryTokenHash: Buffer;
  tags: Tags;
  facts: DeviceFacts | null;
  tokenId: string;
  createdAt: number;
}

/** A change to a device's tags: keys to remove, then keys to set. */
export interface TagChange {
  set?: Readonly<Tags>;
  remove?: readonly string[];
}

/** The devices table. */
export interface DeviceStore {
  insert(device: NewDevice): Promise<void>;
  find(id: string): Promise<DeviceRecord | undefined>;
  findByTelemetryHash(hash: Buffer): Promise<DeviceRecord | undefined>;
  /** Every device in (name, id) order. */
  list(): Promise<DeviceRecord[]>;
  /** Up to `limit` devices (all when negative) in (name, id) order, after `after` (from the start when null). */
  page(after: DeviceListPosition | null, limit: number): Promise<DeviceRecord[]>;
  /**
   * Sets the status, and the revocation time when it becomes revoked. `from`, when given, is the
   * compare-and-set: the update happens only while the status is one of those. Returns the device
   * as it is now, or undefined when it is unknown (or the status did not match `from`).
   */
  setStatus(id: string, status: DeviceStatus, at: number, from?: readonly DeviceStatus[]): Promise<DeviceRecord | undefined>;
  setTags(id: string, tags: Tags): Promise<void>;
  /**
   * Removes then sets tag keys in one statement (a key in both ends up set), so concurrent edits
   * of different keys both survive. Returns the device as it is now, or undefined when it is unknown.
   */
  updateTags(id: string, change: TagChange): Promise<DeviceRecord | undefined>;
  setFacts(id: string, facts: DeviceFacts): Promise<void>;
  /** Writes many last-seen times (presence flushes them in batches). */
  saveLastSeen(entries: ReadonlyArray<readonly [string, number]>): Promise<void>;
}
