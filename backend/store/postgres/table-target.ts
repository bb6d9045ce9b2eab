import type pg from 'pg';
import { quoteIdent } from './pool.js';

export interface TargetTable {
  name: string;
  /** Columns a row is written to, in declaration order (generated columns are left out: PostgreSQL computes them). */
  columns: string[];
  /** Identity columns, whose sequences must move past the copied ids. */
  identity: string[];
  /** Tables this one references by foreign key (they are filled first). */
  references: string[];
}

/** A value as PostgreSQL takes it as a parameter. */
export type PostgresParam = number | string | Buffer | null;

/**
 * One transaction on one connection of the pool, for bulk copies: everything written through it
 * is committed at once or not at all.
 */
export interface PostgresTableTarget {
  tables: TargetTable[];
  /** Tables (of `names`) holding at least one row. */
  nonEmpty(names: readonly string[]): Promise<string[]>;
  /** Empties `names` (with --force), in the same transaction. */
  truncate(names: readonly string[]): Promise<void>;
  insert(table: string, columns: readonly string[], rows: ReadonlyArray<readonly PostgresParam[]>): Promise<void>;
  /** Moves each identity sequence of `table` past the largest id in it, and at least past `floor`. */
  resetIdentity(table: TargetTable, floor?: number): Promise<void>;
  commit(): Promise<void>;
  /** Rolls back (if still open) and returns the connection. */
  release(): Promise<void>;
}

/** PostgreSQL's limit of bind parameters in one statement. */
export const MAX_PARAMS = 65_535;

/**
 * Describes the tables of the pool's current schema (all but the migration bookkeeping) and
 * opens a transaction for copying into them.
 */
export async function beginPostgresCopy(pool: pg.Pool): Promise<PostgresTableTarget> {
  const client = await pool.connect();
  let open = false;
  try {
    await client.query('BEGIN');
    open = true;
    const columns = await client.query<{ table_name: string; column_name: string; is_identity: string; is_generated: string }>(
      `SELECT c.table_name, c.column_name, c.is_identity, c.is_generated
         FROM information_schema.columns c JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
        WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' AND c.table_name <> 'schema_migrations'
        ORDER BY c.table_name, c.ordinal_position`);
    const references = await client.query<{ child: string; parent: string }>(
      `SELECT child.relname AS child, parent.relname AS parent
         FROM pg_constraint k JOIN pg_class child ON child.oid = k.conrelid JOIN pg_class parent ON parent.oid = k.confrelid
        WHERE k.contype = 'f' AND child.relnamespace = current_schema()::regnamespace`);
    const byName = new Map<string, TargetTable>();
    for (const row of columns.rows) {
      let table = byName.get(row.table_name);
      if (!table) byName.set(row.table_name, (table = { name: row.table_name, columns: [], identity: [], references: [] }));
      if (row.is_generated === 'ALWAYS') continue;
      table.columns.push(row.column_name);
      if (row.is_identity === 'YES') table.identity.push(row.column_name);
    }
    for (const { child, parent } of references.rows) {
      if (child !== parent) byName.get(child)?.references.push(parent);
    }
    const tables = [...byName.values()];

    return {
      tables,
      async nonEmpty(names) {
        const found: string[] = [];
        for (const name of names) {
          const { rowCount } = await client.query(`SELECT 1 FROM ${quoteIdent(name)} LIMIT 1`);
          if (rowCount) found.push(name);
        }
        return found;
      },
      async truncate(names) {
        if (names.length > 0) await client.query(`TRUNCATE ${names.map(quoteIdent).join(', ')} RESTART IDENTITY CASCADE`);
      },
      async insert(table, cols, rows) {
        if (rows.length === 0) return;
        const params: PostgresParam[] = [];
        const tuples = rows.map((row) => `(${row.map((value) => `$${params.push(value)}`).join(', ')})`);
        await client.query(`INSERT INTO ${quoteIdent(table)} (${cols.map(quoteIdent).join(', ')}) VALUES ${tuples.join(', ')}`, params);
      },
      async resetIdentity(table, floor = 0) {
        for (const column of table.identity) {
          // setval(seq, n, true): the next id is n + 1; an empty table with no floor starts again at 1.
          await client.query(
            `SELECT setval(pg_get_serial_sequence($1, $2), GREATEST(COALESCE(MAX(${quoteIdent(column)}), 0), $3::bigint, 1), GREATEST(COALESCE(MAX(${quoteIdent(column)}), 0), $3::bigint) > 0) FROM ${quoteIdent(table.name)}`,
            [quoteIdent(table.name), column, floor],
          );
        }
      },
      async commit() {
        await client.query('COMMIT');
        open = false;
      },
      async release() {
        try {
          if (open) await client.query('ROLLBACK');
        } finally {
          open = false;
          client.release();
        }
      },
    };
  } catch (err) {
    if (open) await client.query('ROLLBACK').catch(() => undefined);
    client.release();
    throw err;
  }
}
