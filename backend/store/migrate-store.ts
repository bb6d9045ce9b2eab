import { resolve } from 'node:path';
import { TetherError } from '../../protocol/index.js';
import { openPostgres } from './postgres/pool.js';
import { searchVector } from './postgres/log-search-text.js';
import { beginPostgresCopy, MAX_PARAMS, type PostgresParam, type TargetTable } from './postgres/table-target.js';
import { openSqliteTableSource, type SourceTable, type SqliteValue } from './sqlite/table-source.js';

export interface MigrateStoreOptions {
  /** The SQLite home (tether.db and metrics.db), or a backup directory made by `backup`. */
  home: string;
  /** postgres://… of the target; its schema is brought to the newest migration first. */
  databaseUrl: string;
  /** Empty the target's tables first instead of refusing a target that holds rows. */
  force?: boolean;
  /** PostgreSQL schema other than public (tests). */
  schema?: string;
  /** Called after every batch and once per table at its end (also for empty tables). */
  onProgress?: (progress: TableProgress) => void;
  /** Rows per INSERT (default 1000; fewer for wide tables, PostgreSQL takes at most 65535 parameters). */
  batchRows?: number;
  /** About this many bytes of text and blobs per INSERT (default 8 MiB): the bound on memory with big chunk blobs or command output. */
  batchBytes?: number;
}

export interface TableProgress {
  table: string;
  copied: number;
  total: number;
  done: boolean;
}

export interface MigrateStoreSummary {
  tables: Array<{ table: string; rows: number }>;
  /** Tables of the target that were emptied first (--force). */
  truncated: string[];
}

/**
 * Copies every table of a SQLite home into a PostgreSQL database, verbatim: ids, certificate
 * fingerprints, token hashes, metric chunk blobs, so devices keep their certificates and telemetry
 * tokens and nobody enrols again. One PostgreSQL transaction holds the whole copy: a failure
 * midway leaves the target as it was. Identity sequences move past the copied ids.
 *
 * Refuses (before writing anything) a target whose schema lacks a table or column the source has
 * (SCHEMA_MISMATCH), and a target holding any row (TARGET_NOT_EMPTY) unless `force`, which
 * empties it inside the same transaction. The caller makes sure no backend writes to the home.
 */
export async function migrateStore(options: MigrateStoreOptions): Promise<MigrateStoreSummary> {
  const source = openSqliteTableSource(resolve(options.home));
  try {
    const postgres = await openPostgres({ url: options.databaseUrl, schema: options.schema, max: 1 });
    try {
      const target = await beginPostgresCopy(postgres.pool);
      try {
        const targetTables = new Map(target.tables.map((t) => [t.name, t]));
        checkSchemas(source.tables, targetTables);
        const tables = copyOrder(source.tables, targetTables);

        const present = await target.nonEmpty(target.tables.map((t) => t.name));
        let truncated: string[] = [];
        if (present.length > 0) {
          if (!options.force) {
            throw new TetherError('TARGET_NOT_EMPTY', `The target database already holds rows (in ${present.join(', ')}); migrate-store copies into an empty database only. Use a new database, or --force to delete everything in this one and replace it with the copy`);
          }
          truncated = present;
          await target.truncate(target.tables.map((t) => t.name));
        }

        const summary: MigrateStoreSummary['tables'] = [];
        for (const { table, into } of tables) {
          let copied = 0;
          const maxRows = Math.max(1, Math.min(options.batchRows ?? 1000, Math.floor(MAX_PARAMS / table.columns.length)));
          try {
            const write = withDerivedColumns(table, into);
            for (const batch of source.batches(table, { maxRows, maxBytes: options.batchBytes ?? 8 * 1024 * 1024 })) {
              await target.insert(table.name, write.columns, batch.map(write.row));
              copied += batch.length;
              options.onProgress?.({ table: table.name, copied, total: table.rows, done: false });
            }
            await target.resetIdentity(into, table.sequence);
          } catch (err) {
            if (err instanceof TetherError) throw err;
            throw new TetherError('MIGRATION_FAILED', `Copying ${table.name} failed after ${copied} of ${table.rows} rows: ${err instanceof Error ? err.message : String(err)}. The target was rolled back and holds nothing from this run`, { cause: err });
          }
          options.onProgress?.({ table: table.name, copied, total: table.rows, done: true });
          summary.push({ table: table.name, rows: copied });
        }
        try {
          await target.commit();
        } catch (err) {
          throw new TetherError('MIGRATION_FAILED', `Committing the copy failed: ${err instanceof Error ? err.message : String(err)}. The target holds nothing from this run`, { cause: err });
        }
        return { tables: summary, truncated };
      } finally {
        await target.release();
      }
    } finally {
      await postgres.close();
    }
  } finally {
    source.close();
  }
}

/**
 * The columns a source row is written to. PostgreSQL's logs.search holds the tokens that SQLite's
 * FTS5 index (a separate table, not copied) holds for the same line, computed here as the log store
 * computes them when it writes a line, so a copied log is found by the same searches.
 */
function withDerivedColumns(table: SourceTable, into: TargetTable): { columns: string[]; row: (row: readonly SqliteValue[]) => PostgresParam[] } {
  const message = table.columns.indexOf('message');
  const origin = table.columns.indexOf('source');
  if (table.name !== 'logs' || !into.columns.includes('search') || message < 0 || origin < 0) {
    return { columns: table.columns, row: (row) => row.map(toParam) };
  }
  return {
    columns: [...table.columns, 'search'],
    row: (row) => [...row.map(toParam), searchVector(String(row[message] ?? ''), String(row[origin] ?? ''))],
  };
}

/** SQLite's integers arrive as bigint; as text PostgreSQL reads them into its integer columns exactly. */
function toParam(value: SqliteValue): PostgresParam {
  return typeof value === 'bigint' ? value.toString() : value;
}

/**
 * The source's tables and columns that the target lacks. Every source table must exist in the
 * target with each of its columns; the target may have more (generated columns, tables of a
 * feature that only PostgreSQL has), which stay empty or computed.
 */
export function missingInTarget(source: readonly Pick<SourceTable, 'name' | 'columns'>[], target: ReadonlyMap<string, Pick<TargetTable, 'columns'>>): string[] {
  const missing: string[] = [];
  for (const table of source) {
    const into = target.get(table.name);
    if (!into) {
      missing.push(table.name);
      continue;
    }
    for (const column of table.columns) if (!into.columns.includes(column)) missing.push(`${table.name}.${column}`);
  }
  return missing;
}

function checkSchemas(source: readonly SourceTable[], target: ReadonlyMap<string, TargetTable>): void {
  const missing = missingInTarget(source, target);
  if (missing.length > 0) {
    throw new TetherError('SCHEMA_MISMATCH', `The PostgreSQL schema lacks what the SQLite home has: ${missing.join(', ')}. Copy with the same Tether version on both sides`);
  }
}

/** Source tables ordered so that every table comes after the tables it references in the target. */
function copyOrder(source: readonly SourceTable[], target: ReadonlyMap<string, TargetTable>): Array<{ table: SourceTable; into: TargetTable }> {
  const ordered: Array<{ table: SourceTable; into: TargetTable }> = [];
  const placed = new Set<string>();
  const visiting = new Set<string>();
  const byName = new Map(source.map((t) => [t.name, t]));
  const visit = (table: SourceTable): void => {
    if (placed.has(table.name) || visiting.has(table.name)) return;
    visiting.add(table.name);
    const into = target.get(table.name);
    if (!into) throw new TetherError('SCHEMA_MISMATCH', `The PostgreSQL schema has no table ${table.name}`);
    for (const parent of into.references) {
      const referenced = byName.get(parent);
      if (referenced) visit(referenced);
    }
    visiting.delete(table.name);
    placed.add(table.name);
    ordered.push({ table, into });
  };
  for (const table of source) visit(table);
  return ordered;
}
