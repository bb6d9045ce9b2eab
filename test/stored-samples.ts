import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { MetricEngine } from '../backend/metrics/metric-engine.js';
import { PostgresMetricEngine } from '../backend/store/postgres/metric-engine.js';
import { openPostgres } from '../backend/store/postgres/pool.js';
import { SqliteMetricEngine } from '../backend/store/sqlite/metric-engine.js';
import { MetricStore } from '../backend/store/sqlite/metric-store.js';
import { TEST_STORE, storeEnv, type Backend } from './harness.js';

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

/**
 * Every raw sample a test backend stored for a device (or one of its metrics), on the engine it
 * runs on (TETHER_TEST_STORE), through the backend's own metric engine: head and chunks alike.
 */
export async function backendSamples(backend: Pick<Backend, 'home'>, deviceId: string, name?: string): Promise<StoredSample[]> {
  if (TEST_STORE === 'postgres') return postgresSamples((await storeEnv(backend.home)).TETHER_DATABASE_URL ?? '', deviceId, name);
  const db = new Database(join(backend.home, 'metrics.db'), { readonly: true });
  try {
    return await engineSamples(new SqliteMetricEngine(db), deviceId, name);
  } finally {
    db.close();
  }
}

/** Every raw sample stored for a device (or one of its metrics) in a PostgreSQL database: a cluster's, or a test backend's. */
export async function postgresSamples(url: string, deviceId: string, name?: string): Promise<StoredSample[]> {
  const postgres = await openPostgres({ url, max: 2 });
  try {
    return await engineSamples(new PostgresMetricEngine(postgres.pool), deviceId, name);
  } finally {
    await postgres.close();
  }
}

async function engineSamples(engine: MetricEngine, deviceId: string, name?: string): Promise<StoredSample[]> {
  const out: StoredSample[] = [];
  for (const metric of await engine.seriesNames(deviceId)) {
    if (name !== undefined && metric !== name) continue;
    const raw = await engine.readRaw(deviceId, metric, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    raw.ts.forEach((ts, i) => out.push({ name: metric, ts, value: raw.values[i] as number }));
  }
  return out;
}
