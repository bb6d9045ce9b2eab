import { describe, expect, it } from 'vitest';
import type { TelemetryBatch } from '../../protocol/index.js';
import { openDatabase } from '../store/db.js';
import { METRICS_MIGRATIONS } from '../store/migrations.js';
import { TelemetryStore } from '../telemetry/telemetry-store.js';
import { HOUR_MS, MINUTE_MS, RollupJob } from './rollups.js';

const T0 = Date.UTC(2025, 0, 1);

function setup() {
  const db = openDatabase(':memory:', METRICS_MIGRATIONS);
  return { db, store: new TelemetryStore(db, () => T0), job: new RollupJob(db) };
}

function rows(db: ReturnType<typeof setup>['db'], sql: string): unknown[] {
  return db.prepare(sql).all();
}

describe('RollupJob', () => {
  it('1-minute and 1-hour rollups equal aggregates computed from the raw rows, late samples included', () => {
    const { db, store, job } = setup();
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 100;
    let seq = 0;
    for (const device of ['dev_aaaaaaaaaaaaaaaaaaaa', 'dev_bbbbbbbbbbbbbbbbbbbb']) {
      // 3 hours at 7 s, in batches of 5 samples.
      for (let t = T0; t < T0 + 3 * HOUR_MS; t += 35_000) {
        const metrics = [0, 1, 2, 3, 4].flatMap((i) => [
          { ts: t + i * 7_000, name: 'cpu.total', value: random() },
          { ts: t + i * 7_000, name: 'mem.used_pct', value: random() },
        ]);
        store.store(device, { type: 'batch', seq: seq++, metrics, logs: [] });
      }
    }
    job.run(T0 + 4 * HOUR_MS, 10_000);
    // A late batch for a bucket already rolled up (an agent that was offline) is folded in on the next run.
    store.store('dev_aaaaaaaaaaaaaaaaaaaa', { type: 'batch', seq, metrics: [{ ts: T0 + 30 * MINUTE_MS + 1, name: 'cpu.total', value: 1_000 }], logs: [] });
    expect(job.run(T0 + 4 * HOUR_MS, 10_000).more).toBe(false);

    const fromRaw1m = rows(db, `SELECT device_id, name, (ts / 60000) * 60000 AS bucket, count(*) AS count, sum(value) AS sum, min(value) AS min, max(value) AS max
      FROM samples GROUP BY device_id, name, bucket ORDER BY device_id, name, bucket`);
    const rollup1m = rows(db, 'SELECT device_id, name, bucket, count, sum, min, max FROM rollup_1m ORDER BY device_id, name, bucket');
    expect(rollup1m.length).toBeGreaterThanOrEqual(2 * 2 * 180);
    expect(rollup1m).toEqual(fromRaw1m);
    const fromRaw1h = rows(db, `SELECT device_id, name, (ts / 3600000) * 3600000 AS bucket, count(*) AS count, min(value) AS min, max(value) AS max
      FROM samples GROUP BY device_id, name, bucket ORDER BY device_id, name, bucket`);
    expect(rows(db, 'SELECT device_id, name, bucket, count, min, max FROM rollup_1h ORDER BY device_id, name, bucket')).toEqual(fromRaw1h);
    const sums = rows(db, `SELECT r.sum AS rollup, (SELECT sum(value) FROM samples s WHERE s.device_id = r.device_id AND s.name = r.name AND s.ts >= r.bucket AND s.ts < r.bucket + 3600000) AS raw FROM rollup_1h r`) as Array<{ rollup: number; raw: number }>;
    for (const { rollup, raw } of sums) expect(rollup).toBeCloseTo(raw, 6);
    expect(rows(db, 'SELECT * FROM rollup_dirty')).toEqual([]);
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
    expect(rows(db, 'SELECT device_id, count(*) AS n FROM samples GROUP BY device_id')).toEqual([
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
    expect(rows(db, 'SELECT ts FROM samples ORDER BY rowid')).toEqual([{ ts: T0 + 1 }, { ts: T0 + 2 }]);
  });
});
