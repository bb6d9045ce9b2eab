import type { Kysely } from 'kysely';
import type { StoreSchema } from './schema.js';

/** The two database engines Tether runs on: SQLite files in the home, or one PostgreSQL database. */
export type Engine = 'sqlite' | 'postgres';

/**
 * What every SQL store is built on: a Kysely handle (the database itself, or a transaction on it)
 * and the engine, for the few statements whose SQL differs between the two.
 */
export interface SqlContext {
  db: Kysely<StoreSchema>;
  engine: Engine;
}
