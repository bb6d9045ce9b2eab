import type { ConfigDeviceStatus, ConfigLayer, ConfigRevision, ConfigSchemaEntry } from '../../protocol/index.js';

/** A revision to append; the store numbers it. */
export type NewConfigRevision = Omit<ConfigRevision, 'version'>;

/** A revision without its content, as history lists it. */
export type ConfigRevisionSummary = Omit<ConfigRevision, 'before' | 'after'>;

/** A stored namespace schema (the built-in `agent` one is not stored). */
export type StoredConfigSchema = Pick<ConfigSchemaEntry, 'namespace' | 'version'> & { schema: Record<string, unknown> };

/** The layers and the newest revision number, read together: a config computed from them carries that number. */
export interface ConfigSnapshot {
  version: number;
  layers: ConfigLayer[];
}

/** A stored layer: one that has been written, so it has an author and a time. */
export type StoredConfigLayer = ConfigLayer & { updatedAt: number; updatedBy: string };

/** What delivery stores per device: the config it should have, and what it last said it did. */
export interface DeviceConfigState {
  deviceId: string;
  desiredVersion: number;
  /** Hash of the desired effective config, so a recomputation can tell whether it changed. */
  desiredHash: string;
  reported: ConfigDeviceStatus['reported'];
}

export interface DesiredConfig {
  deviceId: string;
  version: number;
  hash: string;
}

export interface ReportedConfig {
  deviceId: string;
  version: number;
  status: NonNullable<ConfigDeviceStatus['reported']>['status'];
  error: string | null;
  at: number;
}

/**
 * Config layers, their revisions, namespace schemas and per-device delivery state. Every write
 * that names a version is a compare-and-set: it lands only if the stored version is still the
 * expected one (0: absent), and says whether it did. No other rules here: see ConfigService.
 */
export interface ConfigStore {
  layers(): Promise<ConfigLayer[]>;
  layer(id: string): Promise<ConfigLayer | undefined>;
  /** Every layer and the newest revision number (0 before the first), in one read. */
  snapshot(): Promise<ConfigSnapshot>;

  /**
   * Holds every other config write off until the enclosing transaction ends, so revision numbers
   * commit in the order they are handed out (a reader that has seen revision n never later sees a
   * new one below n) and a write's checks against the other layers and schemas see everything
   * committed before it. The first thing every config write does; only inside a transaction.
   */
  lockWrites(): Promise<void>;
  /** Appends a revision and returns its number, which is also the new version of what it changed. */
  appendRevision(revision: NewConfigRevision): Promise<number>;
  /** Writes the layer at `layer.version` if it is still at `expectedVersion` (0: creates it if absent). */
  saveLayer(layer: StoredConfigLayer, expectedVersion: number): Promise<boolean>;
  /** Deletes the layer if it is still at `expectedVersion`. */
  deleteLayer(id: string, expectedVersion: number): Promise<boolean>;

  revision(version: number): Promise<ConfigRevision | undefined>;
  /** Newest first; `target` narrows to one layer or schema, `before` to versions below it. */
  revisions(options: { target?: string; before?: number; limit: number }): Promise<ConfigRevisionSummary[]>;
  /** The content of `target` as it stood at `version` (its newest revision at or before), or null if it did not exist. */
  contentAt(target: string, version: number): Promise<unknown>;

  /** By namespace. */
  schemas(): Promise<StoredConfigSchema[]>;
  /** Writes a namespace's schema at `schema.version` if it is still at `expectedVersion` (0: absent). */
  saveSchema(schema: StoredConfigSchema, expectedVersion: number): Promise<boolean>;

  deviceStates(): Promise<DeviceConfigState[]>;
  /** The stored desired hash of each of `deviceIds` that has one (a refresh reads them a slice at a time). */
  desiredHashes(deviceIds: readonly string[]): Promise<Map<string, string>>;
  deviceState(deviceId: string): Promise<DeviceConfigState | undefined>;
  /** Sets many devices' desired config at once (one statement per few hundred). */
  setDesired(entries: readonly DesiredConfig[]): Promise<void>;
  /** Records many devices' reports at once; a device with no desired state yet is skipped. */
  setReported(reports: readonly ReportedConfig[]): Promise<void>;
}
