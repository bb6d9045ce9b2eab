import { sql, type Selectable } from 'kysely';
import type { StoredLogLine } from '../../../protocol/index.js';
import type { LogFilter, LogStore, LogTerm, NewLogLine } from '../../logs/log-store.js';
import { logTokens } from '../../logs/log-tokens.js';
import type { SqlContext } from '../engine.js';
import type { LogsTable } from '../schema.js';

/** Rows per INSERT: six parameters each stays under SQLite's and PostgreSQL's parameter limits. */
const INSERT_CHUNK = 1_000;
/** PostgreSQL refuses a lexeme this long; FTS5 has no limit (such a token is not searchable on PostgreSQL). */
const MAX_LEXEME_BYTES = 2047;

/** A lexeme in tsvector/tsquery literal syntax: quoted, with ' and \ escaped. */
function lexeme(token: string): string {
  return `'${token.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
}

function indexable(token: string): boolean {
  return Buffer.byteLength(token) <= MAX_LEXEME_BYTES;
}

/**
 * The tsvector literal of a line: message tokens from position 1, source tokens after a gap of one
 * position, so that a phrase never runs from the message into the source (FTS5 keeps them as two
 * columns). Cast with ::tsvector, which reads the literal as is, without PostgreSQL's own parser.
 */
export function searchVector(message: string, source: string): string {
  const parts: string[] = [];
  let position = 0;
  for (const tokens of [logTokens(message), logTokens(source)]) {
    for (const token of tokens) {
      position++;
      // Positions above 16383 are stored as 16383 by PostgreSQL; messages are at most 16 KiB.
      if (indexable(token)) parts.push(`${lexeme(token)}:${position}`);
    }
    position++;
  }
  return parts.join(' ');
}

/** The tsquery literal of the terms: each a phrase (<->), the last token of a prefix term with :*, all ANDed. */
export function searchQuery(terms: readonly LogTerm[]): string | undefined {
  if (terms.some((t) => !t.tokens.every(indexable))) return undefined;
  return terms.map((t) => `(${t.tokens.map((token, i) => lexeme(token) + (t.prefix && i === t.tokens.length - 1 ? ':*' : '')).join(' <-> ')})`).join(' & ');
}

/** The FTS5 MATCH expression of the terms: each a quoted phrase, `*` after a prefix term, ANDed. */
export function ftsMatch(terms: readonly LogTerm[]): string {
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

  async deleteOlderThan(before: number, limit: number): Promise<number> {
    const result = await this.ctx.db.deleteFrom('logs')
      .where('id', 'in', (eb) => eb.selectFrom('logs').select('id').where('ts', '<', before).limit(limit))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
