import { TetherError, type MetricPoint, type MetricTier, type MetricsQuery, type MetricsQueryResult } from '../../protocol/index.js';
import { HOUR_MS, MINUTE_MS, type RawSeries, type RollupPoint } from './chunks.js';
import type { MetricEngine } from './metric-engine.js';
import type { RetentionPolicy } from './retention.js';

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
  constructor(private readonly store: MetricEngine, private readonly retention: RetentionPolicy, private readonly now: () => number = Date.now) {}

  async query(deviceId: string, q: MetricsQuery): Promise<MetricsQueryResult> {
    if (q.to <= q.from || q.to - q.from > MAX_RANGE_MS) throw new TetherError('BAD_REQUEST', 'The range must have from < to and span at most 400 days');
    const span = q.to - q.from;
    const minStep = Math.ceil(span / MAX_POINTS_PER_SERIES);
    const tier = pickTier(q.from, Math.max(q.step, q.step === 0 ? 0 : minStep), this.now(), this.retention);
    const bucket = tier === 'raw' ? 1 : tier === '1m' ? MINUTE_MS : HOUR_MS;
    // Steps are whole buckets of the tier, and wide enough to keep the point count bounded.
    let step = q.step === 0 && tier === 'raw' ? 0 : Math.max(q.step, minStep, bucket);
    if (step > 0) step = Math.ceil(step / bucket) * bucket;
    const series = await Promise.all(q.names.map(async (name) => {
      let points: MetricPoint[];
      if (step === 0) {
        const raw = await this.store.readRaw(deviceId, name, q.from, q.to);
        const n = Math.min(raw.ts.length, MAX_POINTS_PER_SERIES);
        points = Array.from({ length: n }, (_, i): MetricPoint => {
          const v = raw.values[i] as number;
          return [raw.ts[i] as number, v, v, v];
        });
      } else {
        const from = Math.floor(q.from / step) * step;
        if (tier === 'raw') points = bucketRaw(await this.store.readRaw(deviceId, name, from, q.to), step);
        else points = bucketRollups(await this.store.readRollup(tier, deviceId, name, from, q.to), step);
      }
      return { name, points };
    }));
    return { deviceId, tier, step, series };
  }

  /** Metric names a device reported recently (for the metrics page's pickers). */
  recentNames(deviceId: string, sinceMs = 3_600_000): Promise<string[]> {
    return this.store.namesSince(deviceId, this.now() - sinceMs);
  }
}

/** Raw samples (in time order) averaged into buckets of `step` ms. */
function bucketRaw(raw: RawSeries, step: number): MetricPoint[] {
  const points: MetricPoint[] = [];
  let b = NaN;
  let sum = 0;
  let count = 0;
  let min = 0;
  let max = 0;
  for (let i = 0; i <= raw.ts.length; i++) {
    const t = raw.ts[i];
    const nb = t === undefined ? NaN : t - (t % step);
    if (nb !== b) {
      if (count > 0) points.push([b, sum / count, min, max]);
      if (t === undefined) break;
      b = nb;
      sum = 0;
      count = 0;
      min = Infinity;
      max = -Infinity;
    }
    const v = raw.values[i] as number;
    sum += v;
    count++;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return points;
}

/** Rollup buckets (in order) merged into buckets of `step` ms, a multiple of theirs. */
function bucketRollups(rows: readonly RollupPoint[], step: number): MetricPoint[] {
  const points: MetricPoint[] = [];
  let current: { b: number; sum: number; count: number; min: number; max: number } | undefined;
  for (const r of rows) {
    const b = r.bucket - (r.bucket % step);
    if (!current || current.b !== b) {
      if (current) points.push([current.b, current.sum / current.count, current.min, current.max]);
      current = { b, sum: 0, count: 0, min: Infinity, max: -Infinity };
    }
    current.sum += r.sum;
    current.count += r.count;
    if (r.min < current.min) current.min = r.min;
    if (r.max > current.max) current.max = r.max;
  }
  if (current) points.push([current.b, current.sum / current.count, current.min, current.max]);
  return points;
}
