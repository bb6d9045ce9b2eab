import type { LogSearchQuery, StoredLogLine } from '../../protocol/index.js';
import type { Db } from '../store/sqlite/db.js';

interface Row { id: number; device_id: string; ts: number; level: StoredLogLine['level']; source: string; message: string }

/**
 * Turns what a user typed into an FTS5 query: every word becomes a quoted phrase (ANDed), so
 * punctuation such as `-`, `:` or `"` in a search never becomes FTS syntax or an error.
 */
export function ftsQuery(text: string): string | null {
  const terms = text.split(/\s+/).filter(Boolean).slice(0, 16);
  if (terms.length === 0) return null;
  return terms.map((t) => `"${t.replaceAll('"', '""')}"`).join(' ');
}

/** Full-text and range search over stored log lines, newest first. */
export class LogSearch {
  constructor(private readonly db: Db, private readonly now: () => number = Date.now) {}

  search(q: LogSearchQuery): StoredLogLine[] {
    const where: string[] = [];
    const params: Array<string | number> = [];
    const match = q.q === undefined ? null : ftsQuery(q.q);
    if (match !== null) {
      where.push('logs.id IN (SELECT rowid FROM logs_fts WHERE logs_fts MATCH ?)');
      params.push(match);
    }
    if (q.deviceId !== undefined) {
      where.push('logs.device_id = ?');
      params.push(q.deviceId);
    }
    if (q.from !== undefined) {
      where.push('logs.ts >= ?');
      params.push(q.from);
    }
    if (q.to !== undefined) {
      where.push('logs.ts < ?');
      params.push(q.to);
    }
    const sql = `SELECT id, device_id, ts, level, source, message FROM logs ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ts DESC, id DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...params, q.limit) as Row[];
    return rows.map((r) => ({ id: r.id, deviceId: r.device_id, ts: r.ts, level: r.level, source: r.source, message: r.message }));
  }
}
