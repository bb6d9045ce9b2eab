import { Kysely, SqliteDialect } from 'kysely';
import type { StoreSchema } from '../schema.js';
import type { Db } from './db.js';

/**
 * Kysely over an open better-sqlite3 handle. Kysely's SQLite driver holds one connection behind a
 * mutex, so statements queue one after another and a transaction keeps the connection (and so
 * every other statement waits) until it commits: SQLite's single writer, kept across awaits.
 */
export function sqliteKysely(db: Db): Kysely<StoreSchema> {
  return new Kysely<StoreSchema>({ dialect: new SqliteDialect({ database: db }) });
}
