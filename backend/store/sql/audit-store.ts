import type { AuditEntry, AuditQuery } from '../../../protocol/index.js';
import type { AuditStore, NewAuditEntry } from '../../audit/audit-store.js';
import type { SqlContext } from '../engine.js';

export class SqlAuditStore implements AuditStore {
  constructor(private readonly ctx: SqlContext) {}

  async append(e: NewAuditEntry): Promise<void> {
    await this.ctx.db.insertInto('audit_log').values({ ts: e.ts, actor: e.actor, action: e.action, target: e.target, details: JSON.stringify(e.details) }).execute();
  }

  async query(q: Omit<AuditQuery, 'limit'>, limit: number): Promise<AuditEntry[]> {
    let select = this.ctx.db.selectFrom('audit_log').select(['id', 'ts', 'actor', 'action', 'target', 'details']);
    if (q.actor !== undefined) select = select.where('actor', '=', q.actor);
    if (q.action?.endsWith('*')) {
      // `shell.*` style prefixes select a family of actions: a range on the (bytewise) action index.
      const prefix = q.action.slice(0, -1);
      select = select.where('action', '>=', prefix).where('action', '<', `${prefix}\u{10ffff}`);
    } else if (q.action !== undefined) {
      select = select.where('action', '=', q.action);
    }
    if (q.target !== undefined) select = select.where('target', '=', q.target);
    if (q.since !== undefined) select = select.where('ts', '>=', q.since);
    if (q.until !== undefined) select = select.where('ts', '<', q.until);
    if (q.before !== undefined) select = select.where('id', '<', q.before);
    const rows = await select.orderBy('id', 'desc').limit(limit).execute();
    return rows.map((r) => ({ id: r.id, ts: r.ts, actor: r.actor, action: r.action, target: r.target, details: JSON.parse(r.details) as Record<string, unknown> }));
  }
}
