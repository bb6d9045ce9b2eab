import { describe, expect, it } from 'vitest';
import type { MetricSample, TelemetryBatch } from '../../../protocol/index.js';
import { METRICS_MIGRATIONS } from '../migrations.js';
import { openDatabase } from './db.js';
import { MetricStore } from './metric-store.js';
import { TelemetryStore } from './telemetry-store.js';

const T0 = Date.UTC(2025, 0, 1);
const DEV_A = 'dev_aaaaaaaaaaaaaaaaaaaa';
const DEV_B = 'dev_bbbbbbbbbbbbbbbbbbbb';

function setup() {
  const db = openDatabase(':memory:', METRICS_MIGRATIONS);
  const metrics = new MetricStore(db);
  return { db, metrics, store: new TelemetryStore(metrics, () => T0) };
}

function batch(seq: number, metrics: MetricSample[], logs: TelemetryBatch['logs'] = []): TelemetryBatch {
  return { type: 'batch', seq, metrics, logs };
}

/** `count` samples 1 s apart from `start`, valued by position so every row is checkable. */
function samples(count: number, start: number, offset = 0): MetricSample[] {
  return Array.from({ length: count }, (_, i) => ({ ts: start + i * 1_000, name: `m.${i % 7}`, value: offset + i + 0.5 }));
}

describe('TelemetryStore', () => {
  it('stores every sample of a flush exactly, whatever its size (multi-row inserts and the remainder)', () => {
    const { db, store } = setup();
    // 0, 1, 31, 32, 33 and 100 samples: below, at and around the rows-per-insert boundary.
    const sizes = [0, 1, 31, 32, 33, 100];
    const entries = sizes.map((n, i) => ({ deviceId: i % 2 ? DEV_B : DEV_A, batch: batch(i, samples(n, T0 + i * 100_000, i * 1_000)) }));
    const results = store.storeAll(entries);
    expect(results.map((r) => r?.metrics.length)).toEqual(sizes);
    const stored = db.prepare('SELECT device_id AS deviceId, name, ts, value FROM raw_head JOIN series ON series.id = series_id ORDER BY value').all();
    const expected = entries.flatMap(({ deviceId, batch: b }) => b.metrics.map((m) => ({ deviceId, name: m.name, ts: m.ts, value: m.value })));
    expect(stored).toEqual(expected.sort((a, b) => a.value - b.value));
  });

  it('inserts a flush in time order across batches', () => {
    const { db, store } = setup();
    store.storeAll([
      { deviceId: DEV_A, batch: batch(0, samples(40, T0 + 5_000)) },
      { deviceId: DEV_B, batch: batch(0, samples(40, T0)) },
    ]);
    const ts = (db.prepare('SELECT ts FROM raw_head ORDER BY rowid').all() as Array<{ ts: number }>).map((r) => r.ts);
    expect(ts).toEqual([...ts].sort((a, b) => a - b));
  });

  it('ignores a resent batch and marks each touched minute of each device dirty once', () => {
    const { db, store } = setup();
    // 90 samples 1 s apart: minutes T0 and T0 + 1 min for A; one sample for B.
    expect(store.store(DEV_A, batch(7, samples(90, T0)))).toBe(true);
    expect(store.store(DEV_A, batch(7, samples(90, T0)))).toBe(false);
    const [resend, fresh] = store.storeAll([
      { deviceId: DEV_A, batch: batch(7, samples(90, T0)) },
      { deviceId: DEV_B, batch: batch(7, samples(1, T0 + 30_000)) },
    ]);
    expect(resend).toBeNull();
    expect(fresh?.metrics).toHaveLength(1);
    expect(db.prepare('SELECT count(*) AS n FROM raw_head').get()).toEqual({ n: 91 });
    expect(db.prepare("SELECT device_id AS deviceId, bucket FROM rollup_dirty WHERE tier = '1m' ORDER BY device_id, bucket").all()).toEqual([
      { deviceId: DEV_A, bucket: T0 },
      { deviceId: DEV_A, bucket: T0 + 60_000 },
      { deviceId: DEV_B, bucket: T0 },
    ]);
  });

  it('forgets series ids created by a flush that rolled back, so the next flush does not use them', () => {
    const { db, metrics, store } = setup();
    // A log line that violates NOT NULL makes the whole flush fail after its series were interned.
    const bad = { type: 'batch', seq: 1, metrics: [{ ts: T0, name: 'new.metric', value: 1 }], logs: [{ ts: T0, level: 'info', source: null, message: 'x' }] } as unknown as TelemetryBatch;
    expect(() => store.storeAll([{ deviceId: DEV_A, batch: bad }])).toThrow();
    expect(db.prepare('SELECT count(*) AS n FROM series').get()).toEqual({ n: 0 });
    store.store(DEV_B, batch(1, [{ ts: T0, name: 'other', value: 2 }]));
    store.store(DEV_A, batch(2, [{ ts: T0, name: 'new.metric', value: 3 }]));
    const values = (device: string, name: string) => metrics.readRaw(metrics.existingSeriesId(device, name) ?? -1, 0, T0 + 1).values;
    expect(values(DEV_A, 'new.metric')).toEqual([3]);
    expect(values(DEV_B, 'other')).toEqual([2]);
  });

  it('returns stored log lines with their row ids', () => {
    const { store } = setup();
    const [stored] = store.storeAll([{ deviceId: DEV_A, batch: batch(0, [], [{ ts: T0, level: 'info', source: 'app', message: 'hello' }]) }]);
    expect(stored?.logs).toEqual([{ ts: T0, level: 'info', source: 'app', message: 'hello', id: 1 }]);
  });
});
