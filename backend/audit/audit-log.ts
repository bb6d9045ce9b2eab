import type { Db } from '../store/db.js';

/** Append-only record of every mutating action. */
export class AuditLog {
  private readonly insert;
  constructor(db: Db, private readonly now: () => number = Date.now) {
    this.insert = db.prepare('INSERT INTO audit_log(ts, actor, action, target, details) VALUES (?,?,?,?,?)');
  }

  record(actor: string, action: string, target: string | null, details: Record<string, unknown> = {}): void {
    this.insert.run(this.now(), actor, action, target, JSON.stringify(details));
  }
}
