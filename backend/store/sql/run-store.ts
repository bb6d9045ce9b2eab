import { sql, type Insertable, type Kysely, type Selectable } from 'kysely';
import { CommandRequest, type Job, type JobCounts, type Run, type RunState } from '../../../protocol/index.js';
import type { FinalJobState, FinalRunState, NewJob, NewRun, RunEnd, RunStore } from '../../jobs/run-store.js';
import type { SqlContext } from '../engine.js';
import { groupCommit } from '../postgres/group-commit.js';
import type { JobsTable, RunsTable, StoreSchema } from '../schema.js';

/**
 * Runs per multi-row INSERT: 10 parameters a row stays far below SQLite's 32,766 and PostgreSQL's
 * 65,535, and a 10,000-device job is 20 statements instead of 10,000.
 */
const INSERT_SLICE = 500;

/**
 * Output at which a run's end is written alone rather than group-committed: a statement carries
 * its batch's output as hex text, so this bounds one at 500 runs × 2 × 16 KB = 16 MB.
 */
const GROUPED_OUTPUT_BYTES = 16 * 1024;

/** The states each final state may be reached from. */
const ENDS_FROM: Record<FinalRunState, readonly RunState[]> = {
  succeeded: ['running'],
  timed_out: ['running'],
  failed: ['queued', 'running'],
  cancelled: ['queued', 'running'],
  expired: ['queued'],
};

function toRun(r: Selectable<RunsTable>): Run {
  return {
    id: r.id, jobId: r.job_id, deviceId: r.device_id, state: r.state, exitCode: r.exit_code, signal: r.signal,
    stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8'), truncated: r.truncated === 1, error: r.error,
    batch: r.batch, createdAt: r.created_at, startedAt: r.started_at, endedAt: r.ended_at,
  };
}

function emptyCounts(): JobCounts {
  return { queued: 0, running: 0, succeeded: 0, failed: 0, timed_out: 0, cancelled: 0, expired: 0 };
}

function toJob(r: Selectable<JobsTable>, progress: { total: number; counts: JobCounts } | undefined): Job {
  return {
    id: r.id, state: r.state, command: CommandRequest.parse(JSON.parse(r.command)), concurrency: r.concurrency, batchSize: r.batch_size,
    maxFailureRatio: r.max_failure_ratio, queueOffline: r.queue_offline === 1, offlineExpiryMs: r.offline_expiry_ms,
    createdBy: r.created_by, createdAt: r.created_at, endedAt: r.ended_at, reason: r.reason,
    total: progress?.total ?? 0, counts: progress?.counts ?? emptyCounts(),
  };
}

function runRow(r: NewRun, seq: number | null): Insertable<RunsTable> {
  return {
    id: r.id, job_id: r.jobId, device_id: r.deviceId, state: 'queued', command: JSON.stringify(r.command), batch: r.batch, seq,
    created_by: r.createdBy, created_at: r.createdAt, owner: r.owner ?? null,
  };
}

/**
 * Answers a batch's writes in its order. A run named twice in one batch is written once in the
 * statement; each later mention goes alone after it, so it wins or loses against the first as it
 * would have one after the other.
 */
async function oncePerRun<K extends { id: string }, V>(keys: readonly K[], together: (keys: K[]) => Promise<Map<string, V>>, alone: (key: K) => Promise<V>, unmatched: V): Promise<(V | Error)[]> {
  const firsts = new Map<string, K>();
  for (const key of keys) if (!firsts.has(key.id)) firsts.set(key.id, key);
  const written = await together([...firsts.values()]);
  const results: (V | Error)[] = [];
  // The first mention of an id takes it out of `firsts`: the ones after it go alone.
  for (const key of keys) {
    if (firsts.delete(key.id)) results.push(written.get(key.id) ?? unmatched);
    else results.push(await alone(key).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err)))));
  }
  return results;
}

export class SqlRunStore implements RunStore {
  /**
   * On PostgreSQL (outside a transaction) the starts and ends of runs are group-committed: a
   * fleet job starts and ends its runs in bursts, and one statement per run would cost each a
   * round trip and a WAL flush. SQLite writes each alone: a statement there is a function call.
   */
  private readonly starts: ((start: { id: string; at: number }) => Promise<boolean>) | null = null;
  private readonly ends: ((end: { id: string; end: RunEnd }) => Promise<Run | undefined>) | null = null;

  constructor(private readonly ctx: SqlContext) {
    if (ctx.engine === 'postgres' && !ctx.db.isTransaction) {
      this.starts = groupCommit((starts) => oncePerRun(starts, (s) => this.startTogether(s), (s) => this.startAlone(s.id, s.at), false));
      this.ends = groupCommit((ends) => oncePerRun(ends, (e) => this.endTogether(e), (e) => this.endAlone(e.id, e.end), undefined));
    }
  }

  async insertRun(r: NewRun): Promise<void> {
    await this.ctx.db.insertInto('runs').values(runRow(r, null)).execute();
  }

  async insertJob(job: NewJob, runs: readonly NewRun[]): Promise<void> {
    await this.atomically(async (db) => {
      await db.insertInto('jobs').values({
        id: job.id, state: 'running', command: JSON.stringify(job.command), concurrency: job.concurrency, batch_size: job.batchSize,
        max_failure_ratio: job.maxFailureRatio, queue_offline: job.queueOffline ? 1 : 0, offline_expiry_ms: job.offlineExpiryMs,
        created_by: job.createdBy, created_at: job.createdAt, owner: job.owner ?? null,
      }).execute();
      for (let i = 0; i < runs.length; i += INSERT_SLICE) {
        await db.insertInto('runs').values(runs.slice(i, i + INSERT_SLICE).map((r, j) => runRow(r, i + j))).execute();
      }
    });
  }

  markRunning(id: string, at: number): Promise<boolean> {
    return this.starts ? this.starts({ id, at }) : this.startAlone(id, at);
  }

  endRun(id: string, end: RunEnd): Promise<Run | undefined> {
    return this.ends && end.stdout.length + end.stderr.length <= GROUPED_OUTPUT_BYTES ? this.ends({ id, end }) : this.endAlone(id, end);
  }

  private async startAlone(id: string, at: number): Promise<boolean> {
    const result = await this.ctx.db.updateTable('runs').set({ state: 'running', started_at: at }).where('id', '=', id).where('state', '=', 'queued').executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  private async endAlone(id: string, e: RunEnd): Promise<Run | undefined> {
    const row = await this.ctx.db.updateTable('runs')
      .set({
        state: e.state, exit_code: e.exitCode, signal: e.signal, stdout: e.stdout, stderr: e.stderr, truncated: e.truncated ? 1 : 0,
        error: e.error, ended_at: e.endedAt,
      })
      .where('id', '=', id)
      .where('state', 'in', [...ENDS_FROM[e.state]])
      .returningAll()
      .executeTakeFirst();
    return row ? toRun(row) : undefined;
  }

  /** PostgreSQL: queued → running for many runs in one statement; the ids that moved. */
  private async startTogether(starts: readonly { id: string; at: number }[]): Promise<Map<string, boolean>> {
    const { rows } = await sql<{ id: string }>`
      UPDATE runs SET state = 'running', started_at = v.at
      FROM unnest(${starts.map((s) => s.id)}::text[], ${starts.map((s) => s.at)}::bigint[]) AS v(id, at)
      WHERE runs.id = v.id AND runs.state = 'queued'
      RETURNING runs.id`.execute(this.ctx.db);
    return new Map(rows.map((r) => [r.id, true]));
  }

  /** PostgreSQL: many runs ended in one statement, each only from a state its end may follow (ENDS_FROM); the rows as ended. */
  private async endTogether(ends: readonly { id: string; end: RunEnd }[]): Promise<Map<string, Run>> {
    const column = <T>(pick: (e: RunEnd) => T) => ends.map(({ end }) => pick(end));
    const allowed = sql.join(Object.entries(ENDS_FROM).flatMap(([to, froms]) => froms.map((from) => sql`(${to}, ${from})`)));
    const { rows } = await sql<Selectable<RunsTable>>`
      UPDATE runs SET state = v.state, exit_code = v.exit_code, signal = v.signal, stdout = v.stdout, stderr = v.stderr,
        truncated = v.truncated, error = v.error, ended_at = v.ended_at
      FROM unnest(
        ${ends.map((e) => e.id)}::text[], ${column((e) => e.state)}::text[], ${column((e) => e.exitCode)}::integer[], ${column((e) => e.signal)}::text[],
        ${column((e) => e.stdout)}::bytea[], ${column((e) => e.stderr)}::bytea[], ${column((e) => (e.truncated ? 1 : 0))}::integer[],
        ${column((e) => e.error)}::text[], ${column((e) => e.endedAt)}::bigint[]
      ) AS v(id, state, exit_code, signal, stdout, stderr, truncated, error, ended_at)
      WHERE runs.id = v.id AND (v.state, runs.state) IN (${allowed})
      RETURNING runs.*`.execute(this.ctx.db);
    return new Map(rows.map((r) => [r.id, toRun(r)]));
  }

  async endQueued(jobId: string, state: 'cancelled' | 'expired', error: string, endedAt: number): Promise<number> {
    const result = await this.ctx.db.updateTable('runs').set({ state, error, ended_at: endedAt }).where('job_id', '=', jobId).where('state', '=', 'queued').executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async endJob(id: string, state: FinalJobState, reason: string | null, endedAt: number): Promise<Job | undefined> {
    const row = await this.ctx.db.updateTable('jobs').set({ state, reason, ended_at: endedAt }).where('id', '=', id).where('state', '=', 'running').returningAll().executeTakeFirst();
    return row ? toJob(row, (await this.progress([id])).get(id)) : undefined;
  }

  async endOrphans(now: number, reason: string): Promise<{ runs: number; jobs: number }> {
    return this.atomically(async (db) => {
      const runs = await db.updateTable('runs').set({ state: 'cancelled', error: reason, ended_at: now }).where('state', 'in', ['queued', 'running']).executeTakeFirst();
      const jobs = await db.updateTable('jobs').set({ state: 'cancelled', reason, ended_at: now }).where('state', '=', 'running').executeTakeFirst();
      return { runs: Number(runs.numUpdatedRows), jobs: Number(jobs.numUpdatedRows) };
    });
  }

  async openOwners(): Promise<string[]> {
    const rows = await this.ctx.db.selectFrom('runs').select('owner').distinct().where('state', 'in', ['queued', 'running']).where('owner', 'is not', null)
      .union(this.ctx.db.selectFrom('jobs').select('owner').where('state', '=', 'running').where('owner', 'is not', null))
      .execute();
    return rows.flatMap((r) => (r.owner === null ? [] : [r.owner]));
  }

  async endOwnedBy(owner: string, now: number, reason: string): Promise<{ runs: number; jobs: number }> {
    return this.atomically(async (db) => {
      const runs = await db.updateTable('runs').set({ state: 'cancelled', error: reason, ended_at: now }).where('state', 'in', ['queued', 'running']).where('owner', '=', owner).executeTakeFirst();
      const jobs = await db.updateTable('jobs').set({ state: 'cancelled', reason, ended_at: now }).where('state', '=', 'running').where('owner', '=', owner).executeTakeFirst();
      return { runs: Number(runs.numUpdatedRows), jobs: Number(jobs.numUpdatedRows) };
    });
  }

  async findRun(id: string): Promise<Run | undefined> {
    const row = await this.ctx.db.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRun(row) : undefined;
  }

  async runsOfDevice(deviceId: string, limit: number): Promise<Run[]> {
    const rows = await this.ctx.db.selectFrom('runs').selectAll().where('device_id', '=', deviceId).orderBy('created_at', 'desc').orderBy('id').limit(limit).execute();
    return rows.map(toRun);
  }

  async runsOfJob(jobId: string): Promise<Run[]> {
    const rows = await this.ctx.db.selectFrom('runs').selectAll().where('job_id', '=', jobId).orderBy('batch').orderBy('seq').execute();
    return rows.map(toRun);
  }

  async findJob(id: string): Promise<Job | undefined> {
    const row = await this.ctx.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toJob(row, (await this.progress([id])).get(id)) : undefined;
  }

  async listJobs(limit: number): Promise<Job[]> {
    const rows = await this.ctx.db.selectFrom('jobs').selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    const progress = await this.progress(rows.map((r) => r.id));
    return rows.map((r) => toJob(r, progress.get(r.id)));
  }

  /** Runs per state of each job, in one grouped query. */
  private async progress(jobIds: readonly string[]): Promise<Map<string, { total: number; counts: JobCounts }>> {
    const progress = new Map<string, { total: number; counts: JobCounts }>();
    if (jobIds.length === 0) return progress;
    const rows = await this.ctx.db.selectFrom('runs')
      .select((eb) => ['job_id', 'state', eb.fn.countAll<number>().as('n')])
      .where('job_id', 'in', [...jobIds])
      .groupBy(['job_id', 'state'])
      .execute();
    for (const { job_id: jobId, state, n } of rows) {
      if (jobId === null) continue;
      let p = progress.get(jobId);
      if (!p) progress.set(jobId, (p = { total: 0, counts: emptyCounts() }));
      p.counts[state] = Number(n);
      p.total += Number(n);
    }
    return progress;
  }

  /** Runs `fn` in a transaction, or in the caller's when this store is already bound to one. */
  private atomically<T>(fn: (db: Kysely<StoreSchema>) => Promise<T>): Promise<T> {
    return this.ctx.db.isTransaction ? fn(this.ctx.db) : this.ctx.db.transaction().execute(fn);
  }
}
