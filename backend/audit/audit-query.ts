import { Readable } from 'node:stream';
import type { AuditPage, AuditQuery } from '../../protocol/index.js';
import type { AuditLog } from './audit-log.js';
import type { AuditStore } from './audit-store.js';

/** Rows the export reads per query: bounded memory however long the log is. */
const EXPORT_PAGE = 500;

/** Reads the audit log newest first, filtered, in keyset pages by id. */
export class AuditQueryService {
  constructor(private readonly store: AuditStore, private readonly audit: AuditLog) {}

  async page(query: AuditQuery): Promise<AuditPage> {
    const rows = await this.store.query(query, query.limit + 1);
    const more = rows.length > query.limit;
    const entries = rows.slice(0, query.limit);
    return { entries, nextBefore: more ? (entries.at(-1)?.id ?? null) : null };
  }

  /**
   * JSON lines of every matching entry, newest first, for `actor` (who took a copy of the log is
   * itself recorded first). Pages are read as the consumer pulls, so a slow download holds at most
   * one page, and no statement stays open between pages.
   */
  async exportLines(query: Omit<AuditQuery, 'limit'>, actor: string): Promise<Readable> {
    await this.audit.record(actor, 'audit.export', null, { ...query });
    const store = this.store;
    let before = query.before;
    return new Readable({
      read() {
        store.query({ ...query, before }, EXPORT_PAGE).then((rows) => {
          before = rows.at(-1)?.id;
          if (rows.length > 0) this.push(rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
          if (rows.length < EXPORT_PAGE) this.push(null);
        }, (err: unknown) => this.destroy(err instanceof Error ? err : new Error(String(err))));
      },
    });
  }
}
