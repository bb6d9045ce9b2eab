import { describe, expect, it } from 'vitest';
import { CHUNK_WINDOW_MS, MINUTE_MS } from '../../metrics/chunks.js';
import { METRICS_MIGRATIONS } from '../migrations.js';
import { openDatabase } from './db.js';
import { MetricStore } from './metric-store.js';

const T0 = Date.UTC(2025, 0, 1);
const W = CHUNK_WINDOW_MS.raw;

function setup() {
  const db = openDatabase(':memory:', METRICS_MIGRATIONS);
  const store = new MetricStore(db);
  return { db, store, id: store.seriesId('dev_a', 'cpu') };
}
const count = (db: ReturnType<typeof setup>['db'], table: string) => db.prepare(`SELECT count(*) FROM ${table}`).pluck().get();

describe('MetricStore', () => {
  it('interns a series once per device and name', () => {
    const { store, id } = setup();
    expect(store.seriesId('dev_a', 'cpu')).toBe(id);
    expect(store.seriesId('dev_b', 'cpu')).not.toBe(id);
    expect(store.existingSeriesId('dev_c', 'cpu')).toBeUndefined();
    expect(store.seriesOf('dev_a')).toEqual([{ id, name: 'cpu' }]);
  });

  it('compacts closed windows into chunks, keeps the open one in the head, and reads the same before and after', () => {
    const { db, store, id } = setup();
    const rows = Array.from({ length: 300 }, (_, i) => [id, T0 + i * 5_000, Math.floor(i * 37) / 100] as const);
    store.appendRaw(rows);
    const before = store.readRaw(id, T0, T0 + 3 * W);
    // 300 samples at 5 s = 25 minutes: at T0 + 25 min only the first two windows are closed (and past the grace).
    expect(store.compact(T0 + 25 * MINUTE_MS, 10_000)).toEqual({ chunks: 2, more: false });
    expect(count(db, 'raw_chunks')).toBe(2);
    expect(count(db, 'raw_head')).toBe(60);
    expect(store.readRaw(id, T0, T0 + 3 * W)).toEqual(before);
    expect(store.readRaw(id, T0 + 7 * MINUTE_MS, T0 + 12 * MINUTE_MS).ts).toEqual(before.ts.filter((t) => t >= T0 + 7 * MINUTE_MS && t < T0 + 12 * MINUTE_MS));
    // A second pass has nothing to do.
    expect(store.compact(T0 + 25 * MINUTE_MS, 10_000).chunks).toBe(0);
  });

  it('merges a late sample into the chunk of its compacted window, in time order', () => {
    const { db, store, id } = setup();
    store.appendRaw([[id, T0 + 1_000, 1], [id, T0 + 3_000, 3]]);
    store.compact(T0 + W + 5 * MINUTE_MS, 10_000);
    store.appendRaw([[id, T0 + 2_000, 2]]);
    // Readable at once, before compaction, and still in the head until the next window closes.
    expect(store.readRaw(id, T0, T0 + W)).toEqual({ ts: [T0 + 1_000, T0 + 2_000, T0 + 3_000], values: [1, 2, 3] });
    expect(store.compact(T0 + W + 6 * MINUTE_MS, 10_000).chunks).toBe(0);
    expect(count(db, 'raw_head')).toBe(1);
    store.compact(T0 + 2 * W + 5 * MINUTE_MS, 10_000);
    expect(count(db, 'raw_chunks')).toBe(1);
    expect(count(db, 'raw_head')).toBe(0);
    expect(store.readRaw(id, T0, T0 + W)).toEqual({ ts: [T0 + 1_000, T0 + 2_000, T0 + 3_000], values: [1, 2, 3] });
  });

  it('a recomputed rollup bucket in the head replaces the one in its chunk', () => {
    const { store, id } = setup();
    store.putRollup('1m', id, T0, { count: 1, sum: 1, min: 1, max: 1 });
    store.putRollup('1m', id, T0 + MINUTE_MS, { count: 1, sum: 5, min: 5, max: 5 });
    store.compact(T0 + 3 * CHUNK_WINDOW_MS['1m'], 10_000);
    store.putRollup('1m', id, T0, { count: 2, sum: 3, min: 1, max: 2 });
    const expected = [
      { bucket: T0, count: 2, sum: 3, min: 1, max: 2 },
      { bucket: T0 + MINUTE_MS, count: 1, sum: 5, min: 5, max: 5 },
    ];
    expect(store.readRollup('1m', id, T0, T0 + CHUNK_WINDOW_MS['1m'])).toEqual(expected);
    store.compact(T0 + 3 * CHUNK_WINDOW_MS['1m'], 10_000);
    expect(store.readRollup('1m', id, T0, T0 + CHUNK_WINDOW_MS['1m'])).toEqual(expected);
  });

  it('works in slices: a zero budget stops after each group of series and a later pass resumes', () => {
    const { store } = setup();
    for (let d = 0; d < 5; d++) store.appendRaw([[store.seriesId(`dev_${d}`, 'x'), T0, d]]);
    let passes = 0;
    let chunks = 0;
    for (let more = true; more; passes++) {
      const r = store.compact(T0 + 2 * W, 0, 2);
      chunks += r.chunks;
      more = r.more;
    }
    expect(chunks).toBe(5);
    expect(passes).toBeGreaterThan(2);
  });

  it('lists the names a device reported since a time, from head and chunks', () => {
    const { store, id } = setup();
    store.appendRaw([[id, T0, 1], [store.seriesId('dev_a', 'mem'), T0 + 2 * W, 1]]);
    store.compact(T0 + 3 * W, 10_000);
    expect(store.namesSince('dev_a', T0)).toEqual(['cpu', 'mem']);
    expect(store.namesSince('dev_a', T0 + W)).toEqual(['mem']);
  });
});
