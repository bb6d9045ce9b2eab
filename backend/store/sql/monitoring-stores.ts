import type { Kysely } from 'kysely';
import type { Engine, SqlContext } from '../engine.js';
import type { MonitoringStores } from '../monitoring-stores.js';
import type { StoreSchema } from '../schema.js';
import { SqlAlertStore } from './alert-store.js';
import { SqlLogStore } from './log-store.js';

/**
 * The monitoring ports over Kysely on the metrics database (`OpenedStore.metrics`), the same code
 * for both engines; `inTransaction` makes nested calls join.
 */
export function createMonitoringStores(db: Kysely<StoreSchema>, engine: Engine, inTransaction = false): MonitoringStores {
  const ctx: SqlContext = { db, engine };
  const stores: MonitoringStores = {
    engine,
    logs: new SqlLogStore(ctx),
    alerts: new SqlAlertStore(ctx),
    transaction: (fn) => (inTransaction ? fn(stores) : db.transaction().execute((trx) => fn(createMonitoringStores(trx, engine, true)))),
  };
  return stores;
}
