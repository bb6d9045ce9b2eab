import type { AlertStore } from '../alerts/alert-store.js';
import type { LogStore } from '../logs/log-store.js';
import type { Engine } from './engine.js';

/**
 * The ports over the database that holds telemetry, logs and alerts: on SQLite its own file
 * (metrics.db), so never in a transaction with `Stores`; on PostgreSQL the same database.
 * Built by backend/store/sql/monitoring-stores.ts; more monitoring ports join here.
 */
export interface MonitoringStores {
  readonly engine: Engine;
  readonly logs: LogStore;
  readonly alerts: AlertStore;
  /** As `Stores.transaction`, on this database: `tx` holds the same ports bound to one transaction; nested calls join. */
  transaction<T>(fn: (tx: MonitoringStores) => Promise<T>): Promise<T>;
}
