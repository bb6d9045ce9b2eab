import type { Statement } from 'better-sqlite3';
import { TELEMETRY_LIMITS } from '../../protocol/index.js';
import type { Db } from '../store/db.js';

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
 * Deletes data older than the policy, a bounded number of rows per statement so a large
 * backlog never holds the write lock (or the event loop) for long.
 */
export class RetentionJob {
  private readonly statements: Array<{ table: string; stmt: Statement<[number, number]>; age: (p: RetentionPolicy) => number }>;

  constructor(db: Db, private readonly policy: RetentionPolicy = DEFAULT_RETENTION) {
    const del = (table: string, column: string) =>
      db.prepare<[number, number]>(`DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE ${column} < ? LIMIT ?)`);
    // rollup tables are WITHOUT ROWID: delete through their bucket index by key instead.
    const delRollup = (table: string) =>
      db.prepare<[number, number]>(`DELETE FROM ${table} WHERE (device_id, name, bucket) IN (SELECT device_id, name, bucket FROM ${table} WHERE bucket < ? LIMIT ?)`);
    this.statements = [
      { table: 'samples', stmt: del('samples', 'ts'), age: (p) => p.rawMs },
      { table: 'rollup_1m', stmt: delRollup('rollup_1m'), age: (p) => p.minuteMs },
      { table: 'rollup_1h', stmt: delRollup('rollup_1h'), age: (p) => p.hourMs },
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

  /** Deletes expired rows; returns how many per table. Stops early (more: true) after `budgetMs`. */
  run(now: number, budgetMs = 50, chunk = 5_000): { deleted: Record<string, number>; more: boolean } {
    const started = performance.now();
    const deleted: Record<string, number> = {};
    for (const { table, stmt, age } of this.statements) {
      deleted[table] = 0;
      for (;;) {
        const changes = stmt.run(now - age(this.policy), chunk).changes;
        deleted[table] += changes;
        if (performance.now() - started >= budgetMs) return { deleted, more: true };
        if (changes < chunk) break;
      }
    }
    return { deleted, more: false };
  }
}
