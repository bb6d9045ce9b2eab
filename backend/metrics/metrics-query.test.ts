import { describe, expect, it } from 'vitest';
import { TetherError } from '../../protocol/index.js';
import { METRICS_MIGRATIONS } from '../store/migrations.js';
import { openDatabase } from '../store/sqlite/db.js';
import { SqliteMetricEngine } from '../store/sqlite/metric-engine.js';
import { HOUR_MS, MINUTE_MS } from './chunks.js';
import { MetricsQueryService, pickTier } from './metrics-query.js';
import { DEFAULT_RETENTION, RetentionJob } from './retention.js';

const NOW = Date.UTC(2025, 5, 1);
const DEV = 'dev_aaaaaaaaaaaaaaaaaaaa';

describe('pickTier', () => {
  it('reads raw for short ranges and fine steps, minute rollups up to 30 days, hour rollups beyond', () => {
    expect(pickTier(NOW - 15 * MINUTE_MS, 0, NOW, DEFAULT_RETENTION)).toBe('raw');
    expect(pickTier(NOW - 24 * HOUR_MS, 30_000, NOW, DEFAULT_RETENTION)).toBe('raw');
    expect(pickTier(NOW - 24 * HOUR_MS, MINUTE_MS, NOW, DEFAULT_RETENTION)).toBe('1m');
    expect(pickTier(NOW - 3 * 24 * HOUR_MS, 10_000, NOW, DEFAULT_RETENTION)).toBe('1m');
    expect(pickTier(NOW - 7 * 24 * HOUR_MS, HOUR_MS, NOW, DEFAULT_RETENTION)).toBe('1h');
    expect(pickTier(NOW - 60 * 24 * HOUR_MS, MINUTE_MS, NOW, DEFAULT_RETENTION)).toBe('1h');
  });
});

describe('MetricsQueryService', () => {
  /** `compactAt` compacts the head into chunks as of that time before the queries. */
  async function setup(compactAt?: number) {
    const db = openDatabase(':memory:', METRICS_MIGRATIONS);
    const metrics = new SqliteMetricEngine(db, () => NOW);
    // 3 hours of one sample every 10 s: value = minute index.
    let seq = 0;
    for (let t = NOW - 3 * HOUR_MS; t < NOW; t += 60_000) {
      const samples = [0, 1, 2, 3, 4, 5].map((i) => ({ ts: t + i * 10_000, name: 'cpu.total', value: (t - (NOW - 3 * HOUR_MS)) / 60_000 }));
      await metrics.ingest([{ deviceId: DEV, batch: { type: 'batch', seq: seq++, metrics: samples, logs: [] } }]);
    }
    await metrics.rollup(NOW + 2 * HOUR_MS, 10_000);
    if (compactAt !== undefined) expect((await metrics.compact(compactAt, 10_000)).more).toBe(false);
    return { db, metrics, query: new MetricsQueryService(metrics, DEFAULT_RETENTION, () => NOW) };
  }

  it.each([
    ['in the head', undefined],
    ['in chunks', NOW + 3 * HOUR_MS],
    ['partly in chunks', NOW - 45 * MINUTE_MS],
  ])('answers raw points, raw buckets and rollup buckets that agree with each other (samples %s)', async (_, compactAt) => {
    const { query } = await setup(compactAt);
    const raw = await query.query(DEV, { names: ['cpu.total'], from: NOW - 15 * MINUTE_MS, to: NOW, step: 0 });
    expect(raw.tier).toBe('raw');
    expect(raw.series[0]?.points).toHaveLength(15 * 6);
    const minute = await query.query(DEV, { names: ['cpu.total'], from: NOW - 3 * HOUR_MS, to: NOW, step: MINUTE_MS });
    expect(minute.tier).toBe('1m');
    expect(minute.series[0]?.points).toHaveLength(180);
    expect(minute.series[0]?.points[10]).toEqual([NOW - 3 * HOUR_MS + 10 * MINUTE_MS, 10, 10, 10]);
    const hour = await query.query(DEV, { names: ['cpu.total'], from: NOW - 60 * 24 * HOUR_MS, to: NOW, step: HOUR_MS });
    expect(hour.step).toBe(HOUR_MS);
    expect(hour.tier).toBe('1h');
    expect(hour.series[0]?.points.map((p) => p[1])).toEqual([29.5, 89.5, 149.5]);
    expect(hour.series[0]?.points.map((p) => [p[2], p[3]])).toEqual([[0, 59], [60, 119], [120, 179]]);
  });

  it('aggregates whole steps wider than the tier bucket into one point each', async () => {
    const { query } = await setup();
    // better-sqlite3 binds JS numbers as REAL, where (t / step) * step would not round down.
    const raw = await query.query(DEV, { names: ['cpu.total'], from: NOW - 15 * MINUTE_MS, to: NOW, step: 30_000 });
    expect(raw.tier).toBe('raw');
    expect(raw.series[0]?.points).toHaveLength(30);
    expect(raw.series[0]?.points[0]).toEqual([NOW - 15 * MINUTE_MS, 165, 165, 165]);
    const minute = await query.query(DEV, { names: ['cpu.total'], from: NOW - 3 * HOUR_MS, to: NOW, step: 5 * MINUTE_MS });
    expect(minute.tier).toBe('1m');
    expect(minute.series[0]?.points).toHaveLength(36);
    expect(minute.series[0]?.points[1]).toEqual([NOW - 3 * HOUR_MS + 5 * MINUTE_MS, 7, 5, 9]);
  });

  it('widens a step that would return too many points, and refuses an empty or huge range', async () => {
    const { query } = await setup();
    const r = await query.query(DEV, { names: ['cpu.total'], from: NOW - 24 * HOUR_MS, to: NOW, step: 1_000 });
    expect(r.step).toBeGreaterThanOrEqual((24 * HOUR_MS) / 4_000);
    await expect(query.query(DEV, { names: ['cpu.total'], from: NOW, to: NOW, step: 0 })).rejects.toThrow(TetherError);
  });

  it('retention drops whole expired chunks of each tier and keeps the rest', async () => {
    const { db, metrics } = await setup(NOW + 3 * HOUR_MS);
    const job = new RetentionJob(metrics, { ...DEFAULT_RETENTION, rawMs: HOUR_MS, minuteMs: 2 * HOUR_MS });
    const result = await job.run(NOW);
    expect(result.more).toBe(false);
    // Raw chunks are 10 minutes wide: exactly the last hour is left; minute chunks are 2 h wide.
    expect((await metrics.readRaw(DEV, 'cpu.total', 0, NOW)).ts[0]).toBe(NOW - HOUR_MS);
    expect((await metrics.readRollup('1m', DEV, 'cpu.total', 0, NOW))[0]?.bucket).toBe(NOW - 2 * HOUR_MS);
    expect(await metrics.readRollup('1h', DEV, 'cpu.total', 0, NOW)).toHaveLength(3);
    expect(db.prepare('SELECT count(*) FROM raw_head').pluck().get()).toBe(0);
  });

  it('returns no points for a metric the device never reported', async () => {
    const { query } = await setup();
    expect((await query.query(DEV, { names: ['nope'], from: NOW - HOUR_MS, to: NOW, step: 0 })).series).toEqual([{ name: 'nope', points: [] }]);
  });
});
