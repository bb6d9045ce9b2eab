import { describe, expect, it } from 'vitest';
import type { TelemetryBatch } from '../../../protocol/index.js';
import { HOUR_MS, MINUTE_MS, type RollupPoint } from '../../metrics/chunks.js';
import { METRICS_MIGRATIONS } from '../migrations.js';
import { openDatabase } from './db.js';
import { MetricStore } from './metric-store.js';
import { RollupJob } from './rollup-job.js';
import { TelemetryStore } from './telemetry-store.js';

const T0 = Date.UTC(2025, 0, 1);

function setup() {
  const db = openDatabase(':memory:', METRICS_MIGRATIONS);
  const metrics = new MetricStore(db);
  return { db, metrics, store: new TelemetryStore(metrics, () => T0), job: new RollupJob(metrics) };
}

function rows(db: ReturnType<typeof setup>['db'], sql: string): unknown[] {
  return db.prepare(sql).all();
}

describe('RollupJob', () => {
  it.each([false, true])('1-minute and 1-hour rollups equal aggregates computed from the raw samples, late samples included (compacted first: %s)', (compactFirst) => {
    const { db, metrics, store, job } = setup();
    let seed = 7;
    // Readings with two decimals, as agents report them.
    const random = () => Math.round(((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 10_000) / 100;
    let seq = 0;
    const devices = ['dev_aaaaaaaaaaaaaaaaaaaa', 'dev_bbbbbbbbbbbbbbbbbbbb'];
    for (const device of devices) {
      // 3 hours at 7 s, in batches of 5 samples.
      for (let t = T0; t < T0 + 3 * HOUR_MS; t += 35_000) {
        const metrics = [0, 1, 2, 3, 4].flatMap((i) => [
          { ts: t + i * 7_000, name: 'cpu.total', value: random() },
          { ts: t + i * 7_000, name: 'mem.used_pct', value: random() },
        ]);
        store.store(device, { type: 'batch', seq: seq++, metrics, logs: [] });
      }
    }
    if (compactFirst) metrics.compact(T0 + 4 * HOUR_MS, 10_000);
    job.run(T0 + 4 * HOUR_MS, 10_000);
    // A late batch for a bucket already rolled up (an agent that was offline) is folded in on the next run,
    // also when its raw window and its minute's rollups were already compacted into chunks.
    metrics.compact(T0 + 4 * HOUR_MS, 10_000);
    store.store('dev_aaaaaaaaaaaaaaaaaaaa', { type: 'batch', seq, metrics: [{ ts: T0 + 30 * MINUTE_MS + 1, name: 'cpu.total', value: 1_000 }], logs: [] });
    expect(job.run(T0 + 4 * HOUR_MS, 10_000).more).toBe(false);
    if (compactFirst) metrics.compact(T0 + 5 * HOUR_MS, 10_000);

    let minutes = 0;
    for (const device of devices) {
      for (const { id } of metrics.seriesOf(device)) {
        const raw = metrics.readRaw(id, T0, T0 + 3 * HOUR_MS);
        const expected = (bucketMs: number): RollupPoint[] => {
          const out = new Map<number, RollupPoint>();
          raw.ts.forEach((t, i) => {
            const bucket = Math.floor(t / bucketMs) * bucketMs;
            const v = raw.values[i] as number;
            const p = out.get(bucket) ?? { bucket, count: 0, sum: 0, min: Infinity, max: -Infinity };
            out.set(bucket, { bucket, count: p.count + 1, sum: p.sum + v, min: Math.min(p.min, v), max: Math.max(p.max, v) });
          });
          return [...out.values()];
        };
        for (const [tier, bucketMs] of [['1m', MINUTE_MS], ['1h', HOUR_MS]] as const) {
          const got = metrics.readRollup(tier, id, T0, T0 + 3 * HOUR_MS);
          const want = expected(bucketMs);
          expect(got.map(({ sum: _, ...p }) => p)).toEqual(want.map(({ sum: _, ...p }) => p));
          got.forEach((p, i) => expect(p.sum).toBeCloseTo(want[i]?.sum ?? NaN, 6));
          // Sums of two-decimal readings are kept exact, without float noise in the last digits.
          for (const p of got) expect(Math.round(p.sum * 100) / 100).toBe(p.sum);
          if (tier === '1m') minutes += got.length;
        }
      }
    }
    expect(minutes).toBe(2 * 2 * 180);
    expect(db.prepare('SELECT * FROM rollup_dirty').all()).toEqual([]);
  });

  it('leaves the open minute and hour for later and works in slices when given a small budget', () => {
    const { db, store, job } = setup();
    const now = T0 + 10 * MINUTE_MS + 30_000;
    for (let m = 0; m <= 10; m++) store.store('dev_aaaaaaaaaaaaaaaaaaaa', { type: 'batch', seq: m, metrics: [{ ts: T0 + m * MINUTE_MS, name: 'x', value: m }], logs: [] });
    expect(job.run(now, 10_000)).toEqual({ minutes: 10, hours: 0, more: false });
    expect(rows(db, "SELECT bucket FROM rollup_dirty WHERE tier = '1m'")).toEqual([{ bucket: T0 + 10 * MINUTE_MS }]);
    expect(job.run(now + HOUR_MS, 0, 1).more).toBe(true);
  });
});

describe('TelemetryStore', () => {
  it('stores a resent batch once, also within one flush, and keeps samples of other devices apart', () => {
    const { db, store } = setup();
    const batch: TelemetryBatch = { type: 'batch', seq: 5, metrics: [{ ts: T0, name: 'uptime', value: 1 }], logs: [{ ts: T0, level: 'info', source: 's', message: 'hello' }] };
    const results = store.storeAll([
      { deviceId: 'dev_aaaaaaaaaaaaaaaaaaaa', batch },
      { deviceId: 'dev_aaaaaaaaaaaaaaaaaaaa', batch },
      { deviceId: 'dev_bbbbbbbbbbbbbbbbbbbb', batch },
    ]);
    expect(results.map((r) => r !== null)).toEqual([true, false, true]);
    expect(store.store('dev_aaaaaaaaaaaaaaaaaaaa', batch)).toBe(false);
    expect(rows(db, 'SELECT device_id, count(*) AS n FROM raw_head JOIN series ON series.id = series_id GROUP BY device_id')).toEqual([
      { device_id: 'dev_aaaaaaaaaaaaaaaaaaaa', n: 1 },
      { device_id: 'dev_bbbbbbbbbbbbbbbbbbbb', n: 1 },
    ]);
    expect(rows(db, 'SELECT count(*) AS n FROM logs')).toEqual([{ n: 2 }]);
  });

  it('writes a flush in time order', () => {
    const { db, store } = setup();
    store.storeAll([
      { deviceId: 'dev_aaaaaaaaaaaaaaaaaaaa', batch: { type: 'batch', seq: 1, metrics: [{ ts: T0 + 2, name: 'a', value: 0 }], logs: [] } },
      { deviceId: 'dev_bbbbbbbbbbbbbbbbbbbb', batch: { type: 'batch', seq: 1, metrics: [{ ts: T0 + 1, name: 'a', value: 0 }], logs: [] } },
    ]);
    expect(rows(db, 'SELECT ts FROM raw_head ORDER BY rowid')).toEqual([{ ts: T0 + 1 }, { ts: T0 + 2 }]);
  });
});
