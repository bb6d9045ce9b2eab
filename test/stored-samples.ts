import type Database from 'better-sqlite3';
import { MetricStore } from '../backend/store/sqlite/metric-store.js';

export interface StoredSample {
  name: string;
  ts: number;
  value: number;
}

/**
 * Every raw sample a backend stored for a device (or one of its metrics), read from its
 * metrics.db through the backend's own metric store, head and compressed chunks alike:
 * what tests check an acked sample against.
 */
export function storedSamples(db: Database.Database, deviceId: string, name?: string): StoredSample[] {
  const store = new MetricStore(db);
  const out: StoredSample[] = [];
  for (const series of store.seriesOf(deviceId)) {
    if (name !== undefined && series.name !== name) continue;
    const raw = store.readRaw(series.id, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    raw.ts.forEach((ts, i) => out.push({ name: series.name, ts, value: raw.values[i] as number }));
  }
  return out;
}

/** How many (metric, ts) pairs of a device were stored more than once. */
export function duplicateSamples(samples: readonly StoredSample[]): number {
  const seen = new Map<string, number>();
  for (const s of samples) seen.set(`${s.name}@${s.ts}`, (seen.get(`${s.name}@${s.ts}`) ?? 0) + 1);
  return [...seen.values()].filter((n) => n > 1).length;
}
