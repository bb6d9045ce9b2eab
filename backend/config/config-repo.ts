import type { ConfigApplyStatus, ConfigLayer, ConfigLayerKind, ConfigRevision, ConfigValues, Tags } from '../../protocol/index.js';
import type { Db } from '../store/sqlite/db.js';

interface LayerRow { id: string; kind: ConfigLayerKind; selector: string; priority: number; vals: string; version: number; updated_at: number; updated_by: string }
interface RevisionRow { version: number; ts: number; author: string; message: string; action: ConfigRevision['action']; target: string; before: string | null; after: string | null }
interface SchemaRow { namespace: string; schema: string; version: number }
export interface DeviceStateRow {
  device_id: string; desired_version: number; desired_hash: string;
  reported_version: number | null; reported_status: ConfigApplyStatus | null; reported_error: string | null; reported_at: number | null;
}

function toLayer(row: LayerRow): ConfigLayer {
  return {
    id: row.id, kind: row.kind, selector: JSON.parse(row.selector) as Tags, priority: row.priority,
    values: JSON.parse(row.vals) as ConfigValues, version: row.version, updatedAt: row.updated_at, updatedBy: row.updated_by,
  };
}

function toRevision(row: RevisionRow): ConfigRevision {
  return {
    version: row.version, ts: row.ts, author: row.author, message: row.message, action: row.action, target: row.target,
    before: row.before === null ? null : (JSON.parse(row.before) as unknown), after: row.after === null ? null : (JSON.parse(row.after) as unknown),
  };
}

/** Storage of config layers, their revisions, namespace schemas and per-device delivery state. No rules here: see ConfigService. */
export class ConfigRepo {
  private readonly layerById;
  private readonly stateById;
  private readonly upsertState;
  private readonly report;

  constructor(private readonly db: Db) {
    this.layerById = db.prepare('SELECT * FROM config_layers WHERE id = ?');
    this.stateById = db.prepare('SELECT * FROM config_device_state WHERE device_id = ?');
    this.upsertState = db.prepare(
      'INSERT INTO config_device_state(device_id, desired_version, desired_hash) VALUES (?,?,?) ON CONFLICT(device_id) DO UPDATE SET desired_version = excluded.desired_version, desired_hash = excluded.desired_hash',
    );
    this.report = db.prepare('UPDATE config_device_state SET reported_version = ?, reported_status = ?, reported_error = ?, reported_at = ? WHERE device_id = ?');
  }

  /** Runs `fn` in one transaction: a version check and the write it guards cannot interleave with another write. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  layers(): ConfigLayer[] {
    return (this.db.prepare('SELECT * FROM config_layers').all() as LayerRow[]).map(toLayer);
  }

  layer(id: string): ConfigLayer | undefined {
    const row = this.layerById.get(id) as LayerRow | undefined;
    return row ? toLayer(row) : undefined;
  }

  saveLayer(layer: ConfigLayer & { updatedAt: number; updatedBy: string }): void {
    this.db
      .prepare(
        `INSERT INTO config_layers(id, kind, selector, priority, vals, version, updated_at, updated_by) VALUES (?,?,?,?,?,?,?,?)
         ON CONFLICT(id) DO UPDATE SET selector = excluded.selector, priority = excluded.priority, vals = excluded.vals,
           version = excluded.version, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
      )
      .run(layer.id, layer.kind, JSON.stringify(layer.selector), layer.priority, JSON.stringify(layer.values), layer.version, layer.updatedAt, layer.updatedBy);
  }

  deleteLayer(id: string): void {
    this.db.prepare('DELETE FROM config_layers WHERE id = ?').run(id);
  }

  /** Appends a revision; its number is the new version. */
  addRevision(r: Omit<ConfigRevision, 'version'>): number {
    const info = this.db
      .prepare('INSERT INTO config_revisions(ts, author, message, action, target, before, after) VALUES (?,?,?,?,?,?,?)')
      .run(r.ts, r.author, r.message, r.action, r.target, r.before === null ? null : JSON.stringify(r.before), r.after === null ? null : JSON.stringify(r.after));
    return Number(info.lastInsertRowid);
  }

  latestVersion(): number {
    const row = this.db.prepare('SELECT max(version) AS v FROM config_revisions').get() as { v: number | null };
    return row.v ?? 0;
  }

  revision(version: number): ConfigRevision | undefined {
    const row = this.db.prepare('SELECT * FROM config_revisions WHERE version = ?').get(version) as RevisionRow | undefined;
    return row ? toRevision(row) : undefined;
  }

  /** Newest first; `target` narrows to one layer or schema. */
  revisions(options: { target?: string; limit: number; before?: number }): Array<Omit<ConfigRevision, 'before' | 'after'>> {
    const rows = this.db
      .prepare(
        `SELECT version, ts, author, message, action, target FROM config_revisions
         WHERE (@target IS NULL OR target = @target) AND (@before IS NULL OR version < @before) ORDER BY version DESC LIMIT @limit`,
      )
      .all({ target: options.target ?? null, before: options.before ?? null, limit: options.limit }) as Array<Omit<RevisionRow, 'before' | 'after'>>;
    return rows;
  }

  /** The content of `target` as it stood at `version` (the newest revision of it at or before), or null if it did not exist. */
  contentAt(target: string, version: number): unknown {
    const row = this.db
      .prepare('SELECT after FROM config_revisions WHERE target = ? AND version <= ? ORDER BY version DESC LIMIT 1')
      .get(target, version) as { after: string | null } | undefined;
    return row?.after ? (JSON.parse(row.after) as unknown) : null;
  }

  schemas(): Array<{ namespace: string; schema: Record<string, unknown>; version: number }> {
    return (this.db.prepare('SELECT * FROM config_schemas ORDER BY namespace').all() as SchemaRow[]).map((r) => ({
      namespace: r.namespace, schema: JSON.parse(r.schema) as Record<string, unknown>, version: r.version,
    }));
  }

  saveSchema(namespace: string, schema: Record<string, unknown>, version: number): void {
    this.db
      .prepare('INSERT INTO config_schemas(namespace, schema, version) VALUES (?,?,?) ON CONFLICT(namespace) DO UPDATE SET schema = excluded.schema, version = excluded.version')
      .run(namespace, JSON.stringify(schema), version);
  }

  deviceStates(): Map<string, DeviceStateRow> {
    const rows = this.db.prepare('SELECT * FROM config_device_state').all() as DeviceStateRow[];
    return new Map(rows.map((row) => [row.device_id, row]));
  }

  deviceState(deviceId: string): DeviceStateRow | undefined {
    return this.stateById.get(deviceId) as DeviceStateRow | undefined;
  }

  /** Sets many devices' desired version in one transaction. */
  setDesired(entries: Iterable<{ deviceId: string; version: number; hash: string }>): void {
    this.db.transaction(() => {
      for (const e of entries) this.upsertState.run(e.deviceId, e.version, e.hash);
    })();
  }

  /** Records many devices' reports in one transaction. */
  setReported(reports: Iterable<{ deviceId: string; version: number; status: ConfigApplyStatus; error: string | null; at: number }>): void {
    this.db.transaction(() => {
      for (const r of reports) this.report.run(r.version, r.status, r.error, r.at, r.deviceId);
    })();
  }
}
