import { CommandRequest, FINAL_RUN_STATES, JobState, type Job, type JobCounts, type Run, type RunState } from '../../protocol/index.js';
import type { Db } from '../store/sqlite/db.js';

interface RunRow {
  id: string; job_id: string | null; device_id: string; state: RunState; command: string; batch: number | null;
  exit_code: number | null; signal: string | null; stdout: Buffer; stderr: Buffer; truncated: number; error: string | null;
  created_by: string; created_at: number; started_at: number | null; ended_at: number | null;
}

interface JobRow {
  id: string; state: JobState; command: string; concurrency: number; batch_size: number; max_failure_ratio: number | null;
  queue_offline: number; offline_expiry_ms: number; created_by: string; created_at: number; ended_at: number | null; reason: string | null;
}

export interface NewRun {
  id: string; jobId: string | null; deviceId: string; command: CommandRequest; batch: number | null; createdBy: string; createdAt: number;
}

export interface RunEnd {
  state: RunState; exitCode: number | null; signal: string | null; stdout: Buffer; stderr: Buffer; truncated: boolean; error: string | null; endedAt: number;
}

export type NewJob = Omit<Job, 'state' | 'endedAt' | 'total' | 'counts' | 'reason'>;

/**
 * The runs and jobs tables. A run's output is stored once, when it is final. The statements a
 * fleet-wide job runs once per device are prepared once: preparing costs more than running them.
 */
export class RunRepo {
  private readonly insertRunStmt;
  private readonly markRunningStmt;
  private readonly endRunStmt;
  private readonly runById;

  constructor(private readonly db: Db) {
    this.insertRunStmt = db.prepare("INSERT INTO runs(id, job_id, device_id, state, command, batch, created_by, created_at) VALUES (?,?,?,'queued',?,?,?,?)");
    this.markRunningStmt = db.prepare("UPDATE runs SET state = 'running', started_at = ? WHERE id = ?");
    this.endRunStmt = db.prepare('UPDATE runs SET state = ?, exit_code = ?, signal = ?, stdout = ?, stderr = ?, truncated = ?, error = ?, ended_at = ? WHERE id = ?');
    this.runById = db.prepare('SELECT * FROM runs WHERE id = ?');
  }

  insertRun(r: NewRun): void {
    this.insertRunStmt.run(r.id, r.jobId, r.deviceId, JSON.stringify(r.command), r.batch, r.createdBy, r.createdAt);
  }

  /** A job and all its runs, in one transaction: a job is never half-created. */
  insertJob(job: NewJob, runs: NewRun[]): void {
    this.db.transaction(() => {
      this.db.prepare("INSERT INTO jobs(id, state, command, concurrency, batch_size, max_failure_ratio, queue_offline, offline_expiry_ms, created_by, created_at) VALUES (?,'running',?,?,?,?,?,?,?,?)")
        .run(job.id, JSON.stringify(job.command), job.concurrency, job.batchSize, job.maxFailureRatio, job.queueOffline ? 1 : 0, job.offlineExpiryMs, job.createdBy, job.createdAt);
      for (const r of runs) this.insertRun(r);
    })();
  }

  markRunning(id: string, startedAt: number): void {
    this.markRunningStmt.run(startedAt, id);
  }

  endRun(id: string, e: RunEnd): void {
    this.endRunStmt.run(e.state, e.exitCode, e.signal, e.stdout, e.stderr, e.truncated ? 1 : 0, e.error, e.endedAt, id);
  }

  /** Final state for every queued run of a job (cancel, abort). */
  endQueued(jobId: string, state: RunState, error: string, endedAt: number): void {
    this.db.prepare("UPDATE runs SET state = ?, error = ?, ended_at = ? WHERE job_id = ? AND state = 'queued'").run(state, error, endedAt, jobId);
  }

  endJob(id: string, state: JobState, reason: string | null, endedAt: number): void {
    this.db.prepare('UPDATE jobs SET state = ?, reason = ?, ended_at = ? WHERE id = ?').run(state, reason, endedAt, id);
  }

  /** After a restart nothing is running any more; say so instead of leaving runs "running" forever. */
  endOrphans(now: number): void {
    this.db.transaction(() => {
      this.db.prepare("UPDATE runs SET state = 'cancelled', error = 'The backend restarted', ended_at = ? WHERE state IN ('queued','running')").run(now);
      this.db.prepare("UPDATE jobs SET state = 'cancelled', reason = 'The backend restarted', ended_at = ? WHERE state = 'running'").run(now);
    })();
  }

  findRun(id: string): Run | undefined {
    const row = this.runById.get(id) as RunRow | undefined;
    return row ? toRun(row) : undefined;
  }

  runsOfDevice(deviceId: string, limit: number): Run[] {
    return (this.db.prepare('SELECT * FROM runs WHERE device_id = ? ORDER BY created_at DESC LIMIT ?').all(deviceId, limit) as RunRow[]).map(toRun);
  }

  runsOfJob(jobId: string): Run[] {
    return (this.db.prepare('SELECT * FROM runs WHERE job_id = ? ORDER BY batch, rowid').all(jobId) as RunRow[]).map(toRun);
  }

  findJob(id: string): Job | undefined {
    const row = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
    return row ? this.toJob(row) : undefined;
  }

  listJobs(limit: number): Job[] {
    return (this.db.prepare('SELECT * FROM jobs ORDER BY created_at DESC, rowid DESC LIMIT ?').all(limit) as JobRow[]).map((r) => this.toJob(r));
  }

  counts(jobId: string): { total: number; counts: JobCounts } {
    const rows = this.db.prepare('SELECT state, COUNT(*) AS n FROM runs WHERE job_id = ? GROUP BY state').all(jobId) as Array<{ state: RunState; n: number }>;
    const counts: JobCounts = { queued: 0, running: 0, succeeded: 0, failed: 0, timed_out: 0, cancelled: 0, expired: 0 };
    let total = 0;
    for (const { state, n } of rows) {
      counts[state] = n;
      total += n;
    }
    return { total, counts };
  }

  private toJob(r: JobRow): Job {
    return {
      id: r.id, state: r.state, command: CommandRequest.parse(JSON.parse(r.command)), concurrency: r.concurrency, batchSize: r.batch_size,
      maxFailureRatio: r.max_failure_ratio, queueOffline: r.queue_offline === 1, offlineExpiryMs: r.offline_expiry_ms,
      createdBy: r.created_by, createdAt: r.created_at, endedAt: r.ended_at, reason: r.reason, ...this.counts(r.id),
    };
  }
}

export function isFinal(state: RunState): boolean {
  return FINAL_RUN_STATES.has(state);
}

function toRun(r: RunRow): Run {
  return {
    id: r.id, jobId: r.job_id, deviceId: r.device_id, state: r.state, exitCode: r.exit_code, signal: r.signal,
    stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8'), truncated: r.truncated === 1, error: r.error,
    batch: r.batch, createdAt: r.created_at, startedAt: r.started_at, endedAt: r.ended_at,
  };
}
