import type { AuditEntry, AuditQuery } from '../../protocol/index.js';

export type NewAuditEntry = Omit<AuditEntry, 'id'>;

/** The append-only audit log. */
export interface AuditStore {
  append(entry: NewAuditEntry): Promise<void>;
  /** Up to `limit` entries matching `query`, newest first (ids below `query.before` when set). */
  query(query: Omit<AuditQuery, 'limit'>, limit: number): Promise<AuditEntry[]>;
}
