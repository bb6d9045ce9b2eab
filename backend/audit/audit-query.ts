import { Readable } from 'node:stream';
import type { AuditEntry, AuditPage, AuditQuery } from '../../protocol/index.js';
import type { Db } from '../store/db.js';

interface Row { id: number; ts: number; actor: string; action: string; target: string | null; details: string }

/** Rows the export reads per query: bounded memory however long the log is. */
const EXPORT_PAGE = 500;

/** Reads the audit log newest first, filtered, in keyset pages by id. */
export class AuditQueryService {
  constructor(private readonly db: Db) {}

  page(query: AuditQuery): AuditPage {
    const rows = this.rows(query, query.limit + 1);
    const more = rows.length > query.limit;
    const entries = rows.slice(0, query.limit).map(toEntry);
    return { entries, nextBefore: more ? (entries.at(-1)?.id ?? null) : null };
  }

  /**
   * JSON lines of every matching entry, newest first. Pages are read as the consumer pulls, so a
   * slow download holds at most one page; no statement stays open between pages (better-sqlite3
   * would refuse other queries on the connection while one is iterating).
   */
  exportLines(query: Omit<AuditQuery, 'limit'>): Readable {
    const db = this.db;
    let before = query.before;
    return new Readable({
      read() {
        const rows = rowsOf(db, { ...query, before }, EXPORT_PAGE);
        before = rows.at(-1)?.id;
        if (rows.length > 0) this.push(rows.map((r) => `${JSON.stringify(toEntry(r))}\n`).join(''));
        if (rows.length < EXPORT_PAGE) this.push(null);
      },
    });
  }

  private rows(query: Omit<AuditQuery, 'limit'>, limit: number): Row[] {
    return rowsOf(this.db, query, limit);
  }
}

function rowsOf(db: Db, query: Omit<AuditQuery, 'limit'>, limit: number): Row[] {
  const where: string[] = [];
  const args: Array<string | number> = [];
  if (query.actor !== undefined) { where.push('actor = ?'); args.push(query.actor); }
  if (query.action !== undefined) {
    // `shell.*` style prefixes select a family of actions.
    if (query.action.endsWith('*')) { where.push("action LIKE ? ESCAPE '\\'"); args.push(`${escapeLike(query.action.slice(0, -1))}%`); }
    else { where.push('action = ?'); args.push(query.action); }
  }
  if (query.target !== undefined) { where.push('target = ?'); args.push(query.target); }
  if (query.since !== undefined) { where.push('ts >= ?'); args.push(query.since); }
  if (query.until !== undefined) { where.push('ts < ?'); args.push(query.until); }
  if (query.before !== undefined) { where.push('id < ?'); args.push(query.before); }
  const sql = `SELECT id, ts, actor, action, target, details FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
  return db.prepare(sql).all(...args, limit) as Row[];
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function toEntry(row: Row): AuditEntry {
  return { id: row.id, ts: row.ts, actor: row.actor, action: row.action, target: row.target, details: JSON.parse(row.details) as Record<string, unknown> };
}
