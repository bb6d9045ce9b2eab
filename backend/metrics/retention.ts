import type { Statement } from 'better-sqlite3';
import { TELEMETRY_LIMITS } from '../../protocol/index.js';
import type { MetricStore } from './metric-store.js';

/** How long each kind of monitoring data is kept (ARCHITECTURE §5 defaults). */
export interface RetentionPolicy {
  rawMs: number;
  minuteMs: number;
  hourMs: number;
  logsMs: number;
  alertEventsMs: number;
}

const DAY = 24 * 3600 * 1000;

export const DEFAULT_RETENTION: RetentionPolicy = {
  rawMs: 2 * DAY,
  minuteMs: 30 * DAY,
  hourMs: 365 * DAY,
  logsMs: 14 * DAY,
  alertEventsMs: 90 * DAY,
};

/**
 * Deletes data older than the policy: metric chunks whole (a chunk goes once all of its window
 * has expired), other rows a bounded number per statement, so a large backlog never holds the
 * write lock (or the event loop) for long.
 */
export class RetentionJob {
  private readonly statements: Array<{ table: string; stmt: Statement<[number, number]>; age: (p: RetentionPolicy) => number }>;
  /** Set once this pass has been through every series' chunks; the row tables follow. */
  private chunksDone = false;

  constructor(private readonly metrics: MetricStore, private readonly policy: RetentionPolicy = DEFAULT_RETENTION) {
    const db = metrics.db;
    const del = (table: string, column: string) =>
      db.prepare<[number, number]>(`DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE ${column} < ? LIMIT ?)`);
    this.statements = [
      { table: 'logs', stmt: del('logs', 'ts'), age: (p) => p.logsMs },
      { table: 'alert_events', stmt: del('alert_events', 'ts'), age: (p) => p.alertEventsMs },
      // A resend is only possible while its samples pass the clock-skew check; dedup records older than that are useless.
      {
        table: 'telemetry_batches',
        stmt: db.prepare<[number, number]>('DELETE FROM telemetry_batches WHERE (device_id, seq) IN (SELECT device_id, seq FROM telemetry_batches WHERE received_at < ? LIMIT ?)'),
        age: () => TELEMETRY_LIMITS.maxClockSkewMs + DAY,
      },
    ];
  }

  /** Deletes expired data; returns how many rows (or chunks) per table. Stops early (more: true) after `budgetMs`. */
  run(now: number, budgetMs = 50, chunk = 5_000): { deleted: Record<string, number>; more: boolean } {
    const started = performance.now();
    const p = this.policy;
    const deleted: Record<string, number> = { chunks: 0 };
    if (!this.chunksDone) {
      const chunks = this.metrics.dropExpired({ raw: now - p.rawMs, '1m': now - p.minuteMs, '1h': now - p.hourMs }, budgetMs);
      deleted.chunks = chunks.chunks;
      if (chunks.more) return { deleted, more: true };
      this.chunksDone = true;
    }
    for (const { table, stmt, age } of this.statements) {
      deleted[table] = 0;
      for (;;) {
        const changes = stmt.run(now - age(this.policy), chunk).changes;
        deleted[table] += changes;
        if (performance.now() - started >= budgetMs) return { deleted, more: true };
        if (changes < chunk) break;
      }
    }
    this.chunksDone = false;
    return { deleted, more: false };
  }
}
