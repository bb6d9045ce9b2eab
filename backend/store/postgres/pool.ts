import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { TetherError } from '../../../protocol/index.js';
import type { StoreSchema } from '../schema.js';
import { migratePostgres } from './migrate.js';
import { POSTGRES_MIGRATIONS } from './migrations.js';

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/**
 * bigint and numeric as JS numbers: the store's int8 columns hold millisecond times, counts and
 * ids (far below 2^53), and SUM/COUNT results are int8 or numeric. pg leaves them strings by
 * default, which would make the two engines return different types for the same row.
 */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID || oid === NUMERIC_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export interface PostgresOptions {
  /** postgres://user:pass@host:port/db; unset fields come from the usual PG* variables. */
  url: string;
  /** Pool size (default 10). */
  max?: number;
  /** Schema to create and use instead of `public` (tests give each run its own). */
  schema?: string;
}

export interface PostgresStore {
  db: Kysely<StoreSchema>;
  pool: pg.Pool;
  close(): Promise<void>;
}

/** Connects a pool, applies pending migrations under an advisory lock, and returns Kysely over it. */
export async function openPostgres(options: PostgresOptions): Promise<PostgresStore> {
  const pool = new pg.Pool({
    connectionString: options.url, max: options.max ?? 10, types,
    connectionTimeoutMillis: 10_000, idleTimeoutMillis: 30_000,
    ...(options.schema ? { options: `-c search_path=${quoteIdent(options.schema)}` } : {}),
  });
  // An idle client whose server went away emits here; without a listener that would end the process.
  pool.on('error', () => undefined);
  try {
    if (options.schema) await pool.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(options.schema)}`);
    await migratePostgres(pool, POSTGRES_MIGRATIONS);
  } catch (err) {
    await pool.end();
    throw connectError(err, options.url);
  }
  const db = new Kysely<StoreSchema>({ dialect: new PostgresDialect({ pool }) });
  return { db, pool, close: () => db.destroy() };
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A start-up failure the admin can act on: where it tried to connect and why it could not. */
function connectError(err: unknown, url: string): Error {
  if (err instanceof TetherError) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return new TetherError('STORE_UNAVAILABLE', `Cannot use the PostgreSQL database at ${redactUrl(url)}: ${reason}`);
}

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable database URL)';
  }
}
