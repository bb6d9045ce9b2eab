import { sql, type Selectable } from 'kysely';
import type { ConfigLayer, ConfigRevision, ConfigValues, Tags } from '../../../protocol/index.js';
import type {
  ConfigRevisionSummary,
  ConfigSnapshot,
  ConfigStore,
  DesiredConfig,
  DeviceConfigState,
  NewConfigRevision,
  ReportedConfig,
  StoredConfigLayer,
  StoredConfigSchema,
} from '../../config/config-store.js';
import type { SqlContext } from '../engine.js';
import type { ConfigDeviceStateTable, ConfigLayersTable, ConfigRevisionsTable } from '../schema.js';

/** Devices written per statement by setDesired and setReported. */
const STATE_SLICE = 500;

function toLayer(row: Selectable<ConfigLayersTable>): ConfigLayer {
  return {
    id: row.id, kind: row.kind, selector: JSON.parse(row.selector) as Tags, priority: row.priority,
    values: JSON.parse(row.vals) as ConfigValues, version: row.version, updatedAt: row.updated_at, updatedBy: row.updated_by,
  };
}

function toRevision(row: Selectable<ConfigRevisionsTable>): ConfigRevision {
  return {
    version: row.version, ts: row.ts, author: row.author, message: row.message, action: row.action, target: row.target,
    before: parseNullable(row.before), after: parseNullable(row.after),
  };
}

function toState(row: Selectable<ConfigDeviceStateTable>): DeviceConfigState {
  const reported = row.reported_status !== null && row.reported_version !== null && row.reported_at !== null
    ? { version: row.reported_version, status: row.reported_status, error: row.reported_error, at: row.reported_at }
    : null;
  return { deviceId: row.device_id, desiredVersion: row.desired_version, desiredHash: row.desired_hash, reported };
}

function parseNullable(text: string | null): unknown {
  return text === null ? null : (JSON.parse(text) as unknown);
}

function stringifyNullable(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

/** Code-unit order, the same on both engines whatever PostgreSQL's collation. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export class SqlConfigStore implements ConfigStore {
  constructor(private readonly ctx: SqlContext) {}

  async layers(): Promise<ConfigLayer[]> {
    const rows = await this.ctx.db.selectFrom('config_layers').selectAll().execute();
    return rows.map(toLayer).sort((a, b) => compareText(a.id, b.id));
  }

  async layer(id: string): Promise<ConfigLayer | undefined> {
    const row = await this.ctx.db.selectFrom('config_layers').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toLayer(row) : undefined;
  }

  async snapshot(): Promise<ConfigSnapshot> {
    // One statement, so one snapshot on PostgreSQL too: the number matches the layers it comes with.
    const rows = await this.ctx.db
      .selectFrom((eb) => eb.selectFrom('config_revisions').select((e) => e.fn.max('version').as('latest')).as('v'))
      .leftJoin('config_layers as l', (join) => join.onTrue())
      .select(['v.latest', 'l.id', 'l.kind', 'l.selector', 'l.priority', 'l.vals', 'l.version', 'l.updated_at', 'l.updated_by'])
      .execute();
    const layers: ConfigLayer[] = [];
    for (const r of rows) {
      if (r.id === null || r.kind === null || r.selector === null || r.priority === null || r.vals === null || r.version === null || r.updated_at === null || r.updated_by === null) continue;
      layers.push(toLayer({ id: r.id, kind: r.kind, selector: r.selector, priority: r.priority, vals: r.vals, version: r.version, updated_at: r.updated_at, updated_by: r.updated_by }));
    }
    return { version: rows[0]?.latest ?? 0, layers: layers.sort((a, b) => compareText(a.id, b.id)) };
  }

  async lockWrites(): Promise<void> {
    if (!this.ctx.db.isTransaction) throw new Error('lockWrites outside a transaction would lock nothing');
    // SQLite: the transaction already holds the one connection, and with it the only writer.
    if (this.ctx.engine !== 'postgres') return;
    // EXCLUSIVE lets readers (ACCESS SHARE) through and holds writers off until commit. An identity
    // column alone hands out numbers in call order but commits them in any order.
    await sql`LOCK TABLE config_revisions IN EXCLUSIVE MODE`.execute(this.ctx.db);
  }

  async appendRevision(r: NewConfigRevision): Promise<number> {
    const row = await this.ctx.db.insertInto('config_revisions')
      .values({ ts: r.ts, author: r.author, message: r.message, action: r.action, target: r.target, before: stringifyNullable(r.before), after: stringifyNullable(r.after) })
      .returning('version')
      .executeTakeFirstOrThrow();
    return row.version;
  }

  async saveLayer(layer: StoredConfigLayer, expectedVersion: number): Promise<boolean> {
    const values = {
      selector: JSON.stringify(layer.selector), priority: layer.priority, vals: JSON.stringify(layer.values),
      version: layer.version, updated_at: layer.updatedAt, updated_by: layer.updatedBy,
    };
    if (expectedVersion === 0) {
      const result = await this.ctx.db.insertInto('config_layers')
        .values({ id: layer.id, kind: layer.kind, ...values })
        .onConflict((oc) => oc.column('id').doNothing())
        .executeTakeFirst();
      return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
    }
    const result = await this.ctx.db.updateTable('config_layers').set(values)
      .where('id', '=', layer.id).where('version', '=', expectedVersion)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async deleteLayer(id: string, expectedVersion: number): Promise<boolean> {
    const result = await this.ctx.db.deleteFrom('config_layers').where('id', '=', id).where('version', '=', expectedVersion).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async revision(version: number): Promise<ConfigRevision | undefined> {
    const row = await this.ctx.db.selectFrom('config_revisions').selectAll().where('version', '=', version).executeTakeFirst();
    return row ? toRevision(row) : undefined;
  }

  async revisions(options: { target?: string; before?: number; limit: number }): Promise<ConfigRevisionSummary[]> {
    let select = this.ctx.db.selectFrom('config_revisions').select(['version', 'ts', 'author', 'message', 'action', 'target']);
    if (options.target !== undefined) select = select.where('target', '=', options.target);
    if (options.before !== undefined) select = select.where('version', '<', options.before);
    return select.orderBy('version', 'desc').limit(options.limit).execute();
  }

  async contentAt(target: string, version: number): Promise<unknown> {
    const row = await this.ctx.db.selectFrom('config_revisions').select('after')
      .where('target', '=', target).where('version', '<=', version)
      .orderBy('version', 'desc').limit(1)
      .executeTakeFirst();
    return parseNullable(row?.after ?? null);
  }

  async schemas(): Promise<StoredConfigSchema[]> {
    const rows = await this.ctx.db.selectFrom('config_schemas').selectAll().execute();
    return rows
      .map((r) => ({ namespace: r.namespace, schema: JSON.parse(r.schema) as Record<string, unknown>, version: r.version }))
      .sort((a, b) => compareText(a.namespace, b.namespace));
  }

  async saveSchema(s: StoredConfigSchema, expectedVersion: number): Promise<boolean> {
    if (expectedVersion === 0) {
      const result = await this.ctx.db.insertInto('config_schemas')
        .values({ namespace: s.namespace, schema: JSON.stringify(s.schema), version: s.version })
        .onConflict((oc) => oc.column('namespace').doNothing())
        .executeTakeFirst();
      return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
    }
    const result = await this.ctx.db.updateTable('config_schemas').set({ schema: JSON.stringify(s.schema), version: s.version })
      .where('namespace', '=', s.namespace).where('version', '=', expectedVersion)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async deviceStates(): Promise<DeviceConfigState[]> {
    return (await this.ctx.db.selectFrom('config_device_state').selectAll().execute()).map(toState);
  }

  async desiredHashes(deviceIds: readonly string[]): Promise<Map<string, string>> {
    const hashes = new Map<string, string>();
    for (let i = 0; i < deviceIds.length; i += STATE_SLICE) {
      const rows = await this.ctx.db.selectFrom('config_device_state').select(['device_id', 'desired_hash'])
        .where('device_id', 'in', deviceIds.slice(i, i + STATE_SLICE)).execute();
      for (const row of rows) hashes.set(row.device_id, row.desired_hash);
    }
    return hashes;
  }

  async deviceState(deviceId: string): Promise<DeviceConfigState | undefined> {
    const row = await this.ctx.db.selectFrom('config_device_state').selectAll().where('device_id', '=', deviceId).executeTakeFirst();
    return row ? toState(row) : undefined;
  }

  async setDesired(entries: readonly DesiredConfig[]): Promise<void> {
    // One row per device: PostgreSQL refuses an upsert that touches a row twice.
    const rows = [...new Map(entries.map((e) => [e.deviceId, { device_id: e.deviceId, desired_version: e.version, desired_hash: e.hash }])).values()];
    await this.inSlices(rows, async (db, slice) => {
      await db.insertInto('config_device_state').values(slice)
        .onConflict((oc) => oc.column('device_id').doUpdateSet((eb) => ({ desired_version: eb.ref('excluded.desired_version'), desired_hash: eb.ref('excluded.desired_hash') })))
        .execute();
    });
  }

  async setReported(reports: readonly ReportedConfig[]): Promise<void> {
    const latest = [...new Map(reports.map((r) => [r.deviceId, r])).values()];
    const postgres = this.ctx.engine === 'postgres';
    await this.inSlices(latest, async (db, slice) => {
      const values = sql.join(slice.map((r) => (postgres
        ? sql`(${r.deviceId}::text, ${r.version}::bigint, ${r.status}::text, ${r.error}::text, ${r.at}::bigint)`
        : sql`(${r.deviceId}, ${r.version}, ${r.status}, ${r.error}, ${r.at})`)));
      // SQLite names a VALUES list's columns column1…; PostgreSQL takes names in the alias.
      const v = postgres
        ? sql`(VALUES ${values}) AS v(device_id, version, status, error, at)`
        : sql`(SELECT column1 AS device_id, column2 AS version, column3 AS status, column4 AS error, column5 AS at FROM (VALUES ${values})) AS v`;
      await sql`UPDATE config_device_state SET reported_version = v.version, reported_status = v.status, reported_error = v.error, reported_at = v.at
        FROM ${v} WHERE config_device_state.device_id = v.device_id`.execute(db);
    });
  }

  /** Runs `write` per slice of `rows`, in one transaction when there is more than one slice. */
  private async inSlices<T>(rows: readonly T[], write: (db: SqlContext['db'], slice: readonly T[]) => Promise<void>): Promise<void> {
    if (rows.length === 0) return;
    if (rows.length <= STATE_SLICE || this.ctx.db.isTransaction) {
      for (let i = 0; i < rows.length; i += STATE_SLICE) await write(this.ctx.db, rows.slice(i, i + STATE_SLICE));
      return;
    }
    await this.ctx.db.transaction().execute(async (trx) => {
      for (let i = 0; i < rows.length; i += STATE_SLICE) await write(trx, rows.slice(i, i + STATE_SLICE));
    });
  }
}
