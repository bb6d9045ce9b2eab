import { TetherError, type MetricPoint, type MetricTier, type MetricsQuery, type MetricsQueryResult } from '../../protocol/index.js';
import type { Db } from '../store/db.js';
import type { RetentionPolicy } from './retention.js';
import { HOUR_MS, MINUTE_MS } from './rollups.js';

/** Points per series a query may return; a finer step is widened to fit. */
export const MAX_POINTS_PER_SERIES = 4_000;
/** Longest range one query may span. */
const MAX_RANGE_MS = 400 * 24 * 3600 * 1000;

/**
 * Picks the tier for a range and step: raw while the range is inside raw retention and the
 * step is under a minute, minute rollups while inside their retention and the step is under
 * an hour, hour rollups otherwise. A tier never serves a step finer than its bucket.
 */
export function pickTier(from: number, step: number, now: number, retention: RetentionPolicy): MetricTier {
  if (step < MINUTE_MS && from >= now - retention.rawMs) return 'raw';
  if (step < HOUR_MS && from >= now - retention.minuteMs) return '1m';
  return '1h';
}

/** Reads one device's series for a range from the tier that fits it. */
export class MetricsQueryService {
  private readonly rawPoints;
  private readonly rawBuckets;
  private readonly rollupBuckets;
  private readonly rollupRows;
  private readonly names;

  constructor(db: Db, private readonly retention: RetentionPolicy, private readonly now: () => number = Date.now) {
    this.rawPoints = db.prepare('SELECT ts, value FROM samples WHERE device_id = ? AND name = ? AND ts >= ? AND ts < ? ORDER BY ts LIMIT ?').raw();
    // `t - t % step`, not `(t / step) * step`: better-sqlite3 binds JS numbers as REAL, so `/` would
    // not round down, while `%` works on integers.
    this.rawBuckets = db
      .prepare(`SELECT ts - ts % @step AS b, avg(value), min(value), max(value) FROM samples
                WHERE device_id = @device AND name = @name AND ts >= @from AND ts < @to GROUP BY b ORDER BY b`)
      .raw();
    const rollup = (table: string) =>
      db
        .prepare(`SELECT bucket - bucket % @step AS b, sum(sum) / sum(count), min(min), max(max) FROM ${table}
                  WHERE device_id = @device AND name = @name AND bucket >= @from AND bucket < @to GROUP BY b ORDER BY b`)
        .raw();
    this.rollupBuckets = { '1m': rollup('rollup_1m'), '1h': rollup('rollup_1h') } as const;
    // A step of one bucket reads the rows as stored, in primary-key order: grouping them one by
    // one would only cost a temporary B-tree (about half the time of a 24 h query).
    const rows = (table: string) =>
      db
        .prepare(`SELECT bucket, sum / count, min, max FROM ${table}
                  WHERE device_id = @device AND name = @name AND bucket >= @from AND bucket < @to ORDER BY bucket`)
        .raw();
    this.rollupRows = { '1m': rows('rollup_1m'), '1h': rows('rollup_1h') } as const;
    this.names = db.prepare('SELECT DISTINCT name FROM samples WHERE device_id = ? AND ts >= ?').pluck();
  }

  query(deviceId: string, q: MetricsQuery): MetricsQueryResult {
    if (q.to <= q.from || q.to - q.from > MAX_RANGE_MS) throw new TetherError('BAD_REQUEST', 'The range must have from < to and span at most 400 days');
    const span = q.to - q.from;
    const minStep = Math.ceil(span / MAX_POINTS_PER_SERIES);
    const tier = pickTier(q.from, Math.max(q.step, q.step === 0 ? 0 : minStep), this.now(), this.retention);
    const bucket = tier === 'raw' ? 1 : tier === '1m' ? MINUTE_MS : HOUR_MS;
    // Steps are whole buckets of the tier, and wide enough to keep the point count bounded.
    let step = q.step === 0 && tier === 'raw' ? 0 : Math.max(q.step, minStep, bucket);
    if (step > 0) step = Math.ceil(step / bucket) * bucket;
    const series = q.names.map((name) => {
      let points: MetricPoint[];
      if (step === 0) {
        const rows = this.rawPoints.all(deviceId, name, q.from, q.to, MAX_POINTS_PER_SERIES) as Array<[number, number]>;
        points = rows.map(([ts, v]) => [ts, v, v, v]);
      } else {
        const from = Math.floor(q.from / step) * step;
        if (tier === 'raw') points = this.rawBuckets.all({ step, device: deviceId, name, from, to: q.to }) as MetricPoint[];
        else if (step === bucket) points = this.rollupRows[tier].all({ device: deviceId, name, from, to: q.to }) as MetricPoint[];
        else points = this.rollupBuckets[tier].all({ step, device: deviceId, name, from, to: q.to }) as MetricPoint[];
      }
      return { name, points };
    });
    return { deviceId, tier, step, series };
  }

  /** Metric names a device reported recently (for the metrics page's pickers). */
  recentNames(deviceId: string, sinceMs = 3_600_000): string[] {
    return this.names.all(deviceId, this.now() - sinceMs) as string[];
  }
}
