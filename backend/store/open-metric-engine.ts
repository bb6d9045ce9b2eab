import { TetherError } from '../../protocol/index.js';
import type { MetricEngine } from '../metrics/metric-engine.js';
import type { OpenedStore } from './open-store.js';
import { PostgresMetricEngine } from './postgres/metric-engine.js';
import { SqliteMetricEngine } from './sqlite/metric-engine.js';

/** The metric engine on the store's engine: metrics.db on SQLite, the same database on PostgreSQL. */
export function openMetricEngine(store: OpenedStore, now: () => number = Date.now): MetricEngine {
  if (store.postgres) return new PostgresMetricEngine(store.postgres.pool, now);
  if (store.sqlite) return new SqliteMetricEngine(store.sqlite.metricsDb, now);
  throw new TetherError('INTERNAL', `No metric engine for ${store.engine}`);
}
