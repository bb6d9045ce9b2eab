import type { AuditStore } from './audit-store.js';

/** Append-only record of every mutating action. */
export class AuditLog {
  constructor(private readonly store: { audit: AuditStore }, private readonly now: () => number = Date.now) {}

  /** Records through `tx` (a transaction's ports) when given, so the entry commits or rolls back with the action. */
  record(actor: string, action: string, target: string | null, details: Record<string, unknown> = {}, tx: { audit: AuditStore } = this.store): Promise<void> {
    return tx.audit.append({ ts: this.now(), actor, action, target, details });
  }
}
