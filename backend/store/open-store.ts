import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { MAIN_MIGRATIONS, METRICS_MIGRATIONS } from './migrations.js';
import type { Engine } from './engine.js';
import { openPostgres, type PostgresStore } from './postgres/pool.js';
import type { MonitoringStores } from './monitoring-stores.js';
import type { StoreSchema } from './schema.js';
import { createMonitoringStores } from './sql/monitoring-stores.js';
import { createSqlStores } from './sql/sql-stores.js';
import { openDatabase, type Db } from './sqlite/db.js';
import { sqliteKysely } from './sqlite/kysely.js';
import type { Stores } from './stores.js';

export interface StoreOptions {
  /** The backend's home: SQLite's files live here. */
  home: string;
  /** postgres://…: use PostgreSQL instead of SQLite. */
  databaseUrl?: string;
  /** PostgreSQL only: a schema other than public (tests). */
  schema?: string;
}

export interface OpenedStore {
  engine: Engine;
  stores: Stores;
  /** Kysely over the database that holds telemetry, logs and alerts (SQLite: metrics.db; PostgreSQL: the same database). */
  metrics: Kysely<StoreSchema>;
  /** The ports over `metrics` (logs, alerts). */
  monitoring: MonitoringStores;
  /** The raw SQLite handles, for what only SQLite has (online backup, the metric chunk store). */
  sqlite?: { db: Db; metricsDb: Db };
  postgres?: PostgresStore;
  close(): Promise<void>;
}

/** Opens the engine the options name and brings its schema to the newest migration. */
export async function openStore(options: StoreOptions): Promise<OpenedStore> {
  if (options.databaseUrl) {
    const postgres = await openPostgres({ url: options.databaseUrl, schema: options.schema });
    return {
      engine: 'postgres', stores: createSqlStores(postgres.db, 'postgres'), metrics: postgres.db, monitoring: createMonitoringStores(postgres.db, 'postgres'), postgres,
      close: () => postgres.close(),
    };
  }
  const db = openDatabase(join(options.home, 'tether.db'), MAIN_MIGRATIONS);
  const metricsDb = openDatabase(join(options.home, 'metrics.db'), METRICS_MIGRATIONS);
  const main = sqliteKysely(db);
  const metrics = sqliteKysely(metricsDb);
  return {
    engine: 'sqlite', stores: createSqlStores(main, 'sqlite'), metrics, monitoring: createMonitoringStores(metrics, 'sqlite'), sqlite: { db, metricsDb },
    close: async () => {
      // Kysely's destroy closes the better-sqlite3 handles it was given.
      await main.destroy();
      await metrics.destroy();
    },
  };
}

/** The ports over an already open SQLite handle (unit tests that build services by hand). */
export function storesOnSqlite(db: Db): Stores {
  return createSqlStores(sqliteKysely(db), 'sqlite');
}

/** The monitoring ports over an already open metrics SQLite handle (unit tests that build services by hand). */
export function monitoringStoresOnSqlite(metricsDb: Db): MonitoringStores {
  return createMonitoringStores(sqliteKysely(metricsDb), 'sqlite');
}
