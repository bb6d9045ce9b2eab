import { sql, type Selectable } from 'kysely';
import type { DeviceFacts, DeviceStatus, Tags } from '../../../protocol/index.js';
import type { DeviceListPosition, DeviceRecord, DeviceStore, NewDevice, TagChange } from '../../devices/device-store.js';
import type { SqlContext } from '../engine.js';
import type { DevicesTable } from '../schema.js';

function toRecord(row: Selectable<DevicesTable>): DeviceRecord {
  return {
    id: row.id, name: row.name, status: row.status, certFingerprint: row.cert_fingerprint,
    tags: JSON.parse(row.tags) as Tags, facts: row.facts ? (JSON.parse(row.facts) as DeviceFacts) : null,
    createdAt: row.created_at, lastSeen: row.last_seen,
  };
}

/** Last-seen times written per statement: one UPDATE … FROM (VALUES …) per slice. */
const LAST_SEEN_SLICE = 500;

export class SqlDeviceStore implements DeviceStore {
  constructor(private readonly ctx: SqlContext) {}

  async insert(d: NewDevice): Promise<void> {
    await this.ctx.db.insertInto('devices').values({
      id: d.id, name: d.name, status: d.status, cert_fingerprint: d.certFingerprint, telemetry_token_hash: d.telemetryTokenHash,
      tags: JSON.stringify(d.tags), facts: d.facts ? JSON.stringify(d.facts) : null, token_id: d.tokenId, created_at: d.createdAt,
    }).execute();
  }

  async find(id: string): Promise<DeviceRecord | undefined> {
    const row = await this.ctx.db.selectFrom('devices').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async findByTelemetryHash(hash: Buffer): Promise<DeviceRecord | undefined> {
    const row = await this.ctx.db.selectFrom('devices').selectAll().where('telemetry_token_hash', '=', hash).executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async list(): Promise<DeviceRecord[]> {
    return this.page(null, -1);
  }

  async page(after: DeviceListPosition | null, limit: number): Promise<DeviceRecord[]> {
    let select = this.ctx.db.selectFrom('devices').selectAll();
    if (after) select = select.where((eb) => eb(eb.refTuple('name', 'id'), '>', eb.tuple(after.name, after.id)));
    select = select.orderBy('name').orderBy('id');
    if (limit >= 0) select = select.limit(limit);
    return (await select.execute()).map(toRecord);
  }

  async setStatus(id: string, status: DeviceStatus, at: number, from?: readonly DeviceStatus[]): Promise<DeviceRecord | undefined> {
    let update = this.ctx.db.updateTable('devices')
      .set((eb) => ({ status, revoked_at: status === 'revoked' ? at : eb.ref('revoked_at') }))
      .where('id', '=', id);
    if (from) update = update.where('status', 'in', [...from]);
    const row = await update.returningAll().executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async setTags(id: string, tags: Tags): Promise<void> {
    await this.ctx.db.updateTable('devices').set({ tags: JSON.stringify(tags) }).where('id', '=', id).execute();
  }

  async updateTags(id: string, change: TagChange): Promise<DeviceRecord | undefined> {
    const remove = [...(change.remove ?? [])];
    const set = change.set ?? {};
    const tags = this.ctx.engine === 'postgres'
      ? sql<string>`((tags::jsonb - ${remove}::text[]) || ${JSON.stringify(set)}::jsonb)::text`
      // A JSON merge patch (RFC 7396): null removes a key; tag values are strings, so none is null otherwise.
      : sql<string>`json_patch(tags, ${JSON.stringify({ ...Object.fromEntries(remove.map((key) => [key, null])), ...set })})`;
    const row = await this.ctx.db.updateTable('devices').set({ tags }).where('id', '=', id).returningAll().executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async setFacts(id: string, facts: DeviceFacts): Promise<void> {
    await this.ctx.db.updateTable('devices').set({ facts: JSON.stringify(facts) }).where('id', '=', id).execute();
  }

  async saveLastSeen(entries: ReadonlyArray<readonly [string, number]>): Promise<void> {
    for (let i = 0; i < entries.length; i += LAST_SEEN_SLICE) {
      const slice = entries.slice(i, i + LAST_SEEN_SLICE);
      const postgres = this.ctx.engine === 'postgres';
      const values = sql.join(slice.map(([id, ts]) => (postgres ? sql`(${id}, ${ts}::bigint)` : sql`(${id}, ${ts})`)));
      // SQLite names a VALUES list's columns column1, column2; PostgreSQL takes names in the alias.
      const v = postgres ? sql`(VALUES ${values}) AS v(id, ts)` : sql`(SELECT column1 AS id, column2 AS ts FROM (VALUES ${values})) AS v`;
      // Only ever later: a node with an older time must not move a device's last-seen back.
      await sql`UPDATE devices SET last_seen = v.ts FROM ${v}
        WHERE devices.id = v.id AND (devices.last_seen IS NULL OR devices.last_seen < v.ts)`.execute(this.ctx.db);
    }
  }
}
