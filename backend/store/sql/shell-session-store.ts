import type { Selectable } from 'kysely';
import type { NewShellSession, ShellSessionEnd, ShellSessionRecord, ShellSessionStore } from '../../shell/shell-session-store.js';
import type { SqlContext } from '../engine.js';
import type { ShellSessionsTable } from '../schema.js';

function toRecord(r: Selectable<ShellSessionsTable>): ShellSessionRecord {
  return {
    id: r.id, deviceId: r.device_id, username: r.username, startedAt: r.started_at, endedAt: r.ended_at,
    exitCode: r.exit_code, endCode: r.end_code, outputBytes: r.output_bytes, recording: r.recording,
  };
}

export class SqlShellSessionStore implements ShellSessionStore {
  constructor(private readonly ctx: SqlContext) {}

  async insert(s: NewShellSession): Promise<void> {
    await this.ctx.db.insertInto('shell_sessions').values({ id: s.id, device_id: s.deviceId, username: s.username, started_at: s.startedAt, recording: s.recording, owner: s.owner ?? null }).execute();
  }

  async end(id: string, e: ShellSessionEnd, owner?: string): Promise<boolean> {
    let update = this.ctx.db.updateTable('shell_sessions')
      .set({ ended_at: e.endedAt, exit_code: e.exitCode, end_code: e.endCode, output_bytes: e.outputBytes })
      .where('id', '=', id)
      .where('ended_at', 'is', null);
    if (owner !== undefined) update = update.where((eb) => eb.or([eb('owner', '=', owner), eb('owner', 'is', null)]));
    const result = await update.executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async adopt(id: string, owner: string | null): Promise<boolean> {
    const result = await this.ctx.db.updateTable('shell_sessions').set({ owner }).where('id', '=', id).where('ended_at', 'is', null).executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async endOrphans(now: number): Promise<number> {
    const result = await this.ctx.db.updateTable('shell_sessions').set({ ended_at: now, end_code: 'GOING_AWAY' }).where('ended_at', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async openOwners(): Promise<string[]> {
    const rows = await this.ctx.db.selectFrom('shell_sessions').select('owner').distinct().where('ended_at', 'is', null).where('owner', 'is not', null).execute();
    return rows.flatMap((r) => (r.owner === null ? [] : [r.owner]));
  }

  async endOwnedBy(owner: string, now: number): Promise<number> {
    const result = await this.ctx.db.updateTable('shell_sessions').set({ ended_at: now, end_code: 'GOING_AWAY' }).where('ended_at', 'is', null).where('owner', '=', owner).executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async find(id: string): Promise<ShellSessionRecord | undefined> {
    const row = await this.ctx.db.selectFrom('shell_sessions').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async list(filter: { deviceId?: string; limit: number }): Promise<ShellSessionRecord[]> {
    let select = this.ctx.db.selectFrom('shell_sessions').selectAll();
    if (filter.deviceId !== undefined) select = select.where('device_id', '=', filter.deviceId);
    const rows = await select.orderBy('started_at', 'desc').orderBy('id', 'desc').limit(filter.limit).execute();
    return rows.map(toRecord);
  }

  async expiredRecordings(cutoff: number): Promise<Array<{ id: string; recording: string }>> {
    const rows = await this.ctx.db.selectFrom('shell_sessions').select(['id', 'recording'])
      .where('recording', 'is not', null).where('ended_at', 'is not', null).where('ended_at', '<', cutoff)
      .execute();
    return rows.flatMap((r) => (r.recording === null ? [] : [{ id: r.id, recording: r.recording }]));
  }

  async forgetRecording(id: string): Promise<void> {
    await this.ctx.db.updateTable('shell_sessions').set({ recording: null }).where('id', '=', id).execute();
  }
}
