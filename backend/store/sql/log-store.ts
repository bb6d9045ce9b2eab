import { sql, type Selectable } from 'kysely';
import type { StoredLogLine } from '../../../protocol/index.js';
import type { LogFilter, LogStore, LogTerm, NewLogLine } from '../../logs/log-store.js';
import type { SqlContext } from '../engine.js';
import { searchQuery, searchVector } from '../postgres/log-search-text.js';
import type { LogsTable } from '../schema.js';

/** Rows per INSERT: six parameters each stays under SQLite's and PostgreSQL's parameter limits. */
const INSERT_CHUNK = 1_000;

/** The FTS5 MATCH expression of the terms: each a quoted phrase, `*` after a prefix term, ANDed. */
function ftsMatch(terms: readonly LogTerm[]): string {
  return terms.map((t) => `"${t.tokens.join(' ').replaceAll('"', '""')}"${t.prefix ? '*' : ''}`).join(' ');
}

function toLine(r: Pick<Selectable<LogsTable>, 'id' | 'device_id' | 'ts' | 'level' | 'source' | 'message'>): StoredLogLine {
  // level is written from a validated LogLine only.
  return { id: r.id, deviceId: r.device_id, ts: r.ts, level: r.level as StoredLogLine['level'], source: r.source, message: r.message };
}

/**
 * Logs on both engines. SQLite searches its FTS5 table logs_fts (kept by triggers); PostgreSQL
 * the `search` tsvector with a GIN index, which this store writes from the same tokens FTS5
 * makes, so that a query finds the same lines on both.
 */
export class SqlLogStore implements LogStore {
  constructor(private readonly ctx: SqlContext) {}

  async append(lines: readonly NewLogLine[]): Promise<number[]> {
    const ids: number[] = [];
    for (let i = 0; i < lines.length; i += INSERT_CHUNK) {
      const rows = lines.slice(i, i + INSERT_CHUNK).map((l) => ({
        device_id: l.deviceId, ts: l.ts, level: l.level, source: l.source, message: l.message,
        ...(this.ctx.engine === 'postgres' ? { search: sql<string>`${searchVector(l.message, l.source)}::tsvector` } : {}),
      }));
      const inserted = await this.ctx.db.insertInto('logs').values(rows).returning('id').execute();
      // Ids are handed out in the order of the VALUES list; RETURNING's order is not promised.
      ids.push(...inserted.map((r) => r.id).sort((a, b) => a - b));
    }
    return ids;
  }

  async search(f: LogFilter): Promise<StoredLogLine[]> {
    let select = this.ctx.db.selectFrom('logs').select(['id', 'device_id', 'ts', 'level', 'source', 'message']);
    if (f.terms && f.terms.length > 0) {
      if (this.ctx.engine === 'sqlite') {
        select = select.where(sql<boolean>`logs.id IN (SELECT rowid FROM logs_fts WHERE logs_fts MATCH ${ftsMatch(f.terms)})`);
      } else {
        const query = searchQuery(f.terms);
        if (query === undefined) return [];
        select = select.where(sql<boolean>`search @@ ${query}::tsquery`);
      }
    }
    if (f.deviceId !== undefined) select = select.where('device_id', '=', f.deviceId);
    if (f.from !== undefined) select = select.where('ts', '>=', f.from);
    if (f.to !== undefined) select = select.where('ts', '<', f.to);
    const rows = await select.orderBy('ts', 'desc').orderBy('id', 'desc').limit(f.limit).execute();
    return rows.map(toLine);
  }
}
