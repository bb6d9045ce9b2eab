import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { TetherError } from '../../../protocol/index.js';
import { MAIN_MIGRATIONS, METRICS_MIGRATIONS, type Migration } from '../migrations.js';

/** A value as SQLite stores it; integers read as bigint so none loses precision on the way. */
export type SqliteValue = bigint | number | string | Buffer | null;

export interface SourceTable {
  name: string;
  /** Columns in declaration order. */
  columns: string[];
  rows: number;
  /** AUTOINCREMENT tables: the highest id ever handed out (sqlite_sequence), which may exceed the largest id left. */
  sequence?: number;
}

/** Every ordinary table of a SQLite home, read row by row in bounded batches. */
export interface SqliteTableSource {
  tables: SourceTable[];
  /** Rows of `table` as arrays in `columns` order, in batches of at most `maxRows` rows or about `maxBytes` of text and blobs. */
  batches(table: SourceTable, limits: { maxRows: number; maxBytes: number }): Generator<SqliteValue[][]>;
  close(): void;
}

const FILES: ReadonlyArray<{ file: string; migrations: readonly Migration[] }> = [
  { file: 'tether.db', migrations: MAIN_MIGRATIONS },
  { file: 'metrics.db', migrations: METRICS_MIGRATIONS },
];

const newest = (migrations: readonly Migration[]) => Math.max(...migrations.map((m) => m.version));

/**
 * Opens tether.db and metrics.db of a home read-only, each inside one read transaction so that
 * counts and rows come from the same snapshot. Leaves out SQLite's own tables and virtual tables
 * with their shadow tables (logs_fts: PostgreSQL builds its search column from the rows).
 * SCHEMA_MISMATCH when a database is not at this build's newest migration: the target's schema
 * is this build's, so an older home must first be opened by this version (`serve` once) and a
 * newer one copied by its own version.
 */
export function openSqliteTableSource(home: string): SqliteTableSource {
  const handles: Array<{ db: Database.Database; tables: Set<string> }> = [];
  const tables: SourceTable[] = [];
  try {
    for (const { file, migrations } of FILES) {
      const path = join(home, file);
      if (!existsSync(path)) throw new TetherError('NOT_FOUND', `No ${file} in ${home}: not a Tether home with SQLite databases`);
      const db = new Database(path, { readonly: true, fileMustExist: true });
      handles.push({ db, tables: new Set() });
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version !== newest(migrations)) {
        throw new TetherError('SCHEMA_MISMATCH', `${file} is at schema version ${version}, this Tether expects ${newest(migrations)}: ${version < newest(migrations) ? 'start this version of the backend on the home once to upgrade it' : 'use the Tether version that wrote it'}, then copy it`);
      }
      db.exec('BEGIN');
      const listed = db.prepare("SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name").pluck().all() as string[];
      const hasSequence = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").get() !== undefined;
      for (const name of listed) {
        const columns = (db.prepare('SELECT name FROM pragma_table_info(?) ORDER BY cid').pluck().all(name) as string[]);
        const rows = db.prepare(`SELECT count(*) FROM ${quote(name)}`).pluck().get() as number;
        const sequence = hasSequence ? (db.prepare('SELECT seq FROM sqlite_sequence WHERE name = ?').pluck().get(name) as number | undefined) : undefined;
        tables.push({ name, columns, rows, ...(sequence !== undefined && { sequence }) });
        handles[handles.length - 1]?.tables.add(name);
      }
    }
  } catch (err) {
    for (const { db } of handles) db.close();
    throw err;
  }
  const handleOf = (table: string): Database.Database => {
    const found = handles.find((h) => h.tables.has(table));
    if (!found) throw new TetherError('NOT_FOUND', `No table ${table} in the SQLite home`);
    return found.db;
  };
  return {
    tables,
    *batches(table, { maxRows, maxBytes }) {
      const statement = handleOf(table.name).prepare(`SELECT ${table.columns.map(quote).join(', ')} FROM ${quote(table.name)}`).raw(true).safeIntegers(true);
      let batch: SqliteValue[][] = [];
      let bytes = 0;
      for (const row of statement.iterate() as IterableIterator<SqliteValue[]>) {
        batch.push(row);
        for (const value of row) if (typeof value === 'string' || Buffer.isBuffer(value)) bytes += value.length;
        if (batch.length >= maxRows || bytes >= maxBytes) {
          yield batch;
          batch = [];
          bytes = 0;
        }
      }
      if (batch.length > 0) yield batch;
    },
    close() {
      for (const { db } of handles) db.close();
    },
  };
}

function quote(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
