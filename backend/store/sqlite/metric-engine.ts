import type { Statement } from 'better-sqlite3';
import { TELEMETRY_LIMITS } from '../../../protocol/index.js';
import type { RawSeries, RollupPoint, RollupTier } from '../../metrics/chunks.js';
import type {
  CompactionProgress, IncomingBatch, LatestSample, MetricEngine, RetentionProgress, RollupProgress, StoredBatch,
} from '../../metrics/metric-engine.js';
import type { RetentionPolicy } from '../../metrics/retention.js';
import type { Db } from './db.js';
import { MetricStore } from './metric-store.js';
import { RollupJob } from './rollup-job.js';
import { TelemetryStore } from './telemetry-store.js';

const DAY = 24 * 3600 * 1000;

/**
 * The metric engine on SQLite (metrics.db): the synchronous store, whose every call runs to the
 * end in one go — a flush is one short transaction on the single writer, a job slice a few
 * milliseconds — answered as promises. Nothing here awaits in the middle of a transaction, so
 * SQLite's writer is never held across a turn of the event loop.
 */
export class SqliteMetricEngine implements MetricEngine {
  readonly concurrentFlushes = 1;
  readonly store: MetricStore;
  private readonly telemetry: TelemetryStore;
  private readonly rollups: RollupJob;
  private readonly expire: Array<{ table: string; stmt: Statement<[number, number]>; age: (p: RetentionPolicy) => number }>;
  /** Set once a retention pass has been through every series' chunks; the row tables follow. */
  private chunksDone = false;

  constructor(readonly db: Db, now: () => number = Date.now) {
    this.store = new MetricStore(db);
    this.telemetry = new TelemetryStore(this.store, now);
    this.rollups = new RollupJob(this.store);
    const del = (table: string, column: string) =>
      db.prepare<[number, number]>(`DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE ${column} < ? LIMIT ?)`);
    this.expire = [
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

  async ingest(entries: readonly IncomingBatch[]): Promise<Array<StoredBatch | null>> {
    return this.telemetry.storeAll(entries);
  }

  async readRaw(deviceId: string, name: string, from: number, to: number): Promise<RawSeries> {
    const id = this.store.existingSeriesId(deviceId, name);
    return id === undefined ? { ts: [], values: [] } : this.store.readRaw(id, from, to);
  }

  async readRollup(tier: RollupTier, deviceId: string, name: string, from: number, to: number): Promise<RollupPoint[]> {
    const id = this.store.existingSeriesId(deviceId, name);
    return id === undefined ? [] : this.store.readRollup(tier, id, from, to);
  }

  async seriesNames(deviceId: string): Promise<string[]> {
    return this.store.seriesOf(deviceId).map((s) => s.name);
  }

  async namesSince(deviceId: string, since: number): Promise<string[]> {
    return this.store.namesSince(deviceId, since);
  }

  async latestSince(since: number): Promise<LatestSample[]> {
    return [...this.store.latestSince(since)];
  }

  async rollup(now: number, budgetMs?: number, chunk?: number): Promise<RollupProgress> {
    return this.rollups.run(now, budgetMs, chunk);
  }

  async compact(now: number, budgetMs?: number, seriesPerTx?: number): Promise<CompactionProgress> {
    return this.store.compact(now, budgetMs, seriesPerTx);
  }

  async dropExpired(now: number, policy: RetentionPolicy, budgetMs = 50, chunk = 5_000): Promise<RetentionProgress> {
    const started = performance.now();
    const deleted: Record<string, number> = { chunks: 0 };
    if (!this.chunksDone) {
      const chunks = this.store.dropExpired({ raw: now - policy.rawMs, '1m': now - policy.minuteMs, '1h': now - policy.hourMs }, budgetMs);
      deleted.chunks = chunks.chunks;
      if (chunks.more) return { deleted, more: true };
      this.chunksDone = true;
    }
    for (const { table, stmt, age } of this.expire) {
      deleted[table] = 0;
      for (;;) {
        const changes = stmt.run(now - age(policy), chunk).changes;
        deleted[table] += changes;
        if (performance.now() - started >= budgetMs) return { deleted, more: true };
        if (changes < chunk) break;
      }
    }
    this.chunksDone = false;
    return { deleted, more: false };
  }
}
