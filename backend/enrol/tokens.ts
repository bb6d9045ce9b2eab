import { randomBytes } from 'node:crypto';
import { parseOrThrow, TetherError, TokenCreateRequest, type RegistrationToken, type Tags } from '../../protocol/index.js';
import type { AuditLog } from '../audit/audit-log.js';
import { hashSecret, newSecret } from '../auth/secrets.js';
import type { Db } from '../store/db.js';

interface TokenRow {
  id: string; created_at: number; expires_at: number | null; max_uses: number | null; uses: number;
  tags: string; require_approval: number; revoked_at: number | null;
}

function toToken(row: TokenRow): RegistrationToken {
  return {
    id: row.id, createdAt: row.created_at, expiresAt: row.expires_at, maxUses: row.max_uses, uses: row.uses,
    tags: JSON.parse(row.tags) as Tags, requireApproval: row.require_approval === 1, revokedAt: row.revoked_at,
  };
}

/**
 * Registration tokens: created by admins, spent by devices at enrolment. Only hashes are stored.
 * Creating and revoking are audited here, so the API and the CLI record them alike.
 */
export class TokenService {
  constructor(private readonly db: Db, private readonly audit: AuditLog, private readonly now: () => number = Date.now) {}

  /** `actor` as the audit log names it: `user:<name>` for the API, `cli:<os user>` for the CLI. */
  create(input: TokenCreateRequest, actor: string): RegistrationToken & { token: string } {
    // Parsed here too: the CLI reaches this without the HTTP layer's schema.
    const request = parseOrThrow(TokenCreateRequest, input, 'token');
    const id = `tok_${randomBytes(8).toString('hex')}`;
    const token = newSecret('trt_');
    const createdAt = this.now();
    const expiresAt = request.ttlSeconds ? createdAt + request.ttlSeconds * 1000 : null;
    // One transaction: a token never exists without its audit entry.
    const created = this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO registration_tokens(id, secret_hash, created_at, expires_at, max_uses, tags, require_approval, created_by) VALUES (?,?,?,?,?,?,?,?)')
        .run(id, hashSecret(token), createdAt, expiresAt, request.uses ?? null, JSON.stringify(request.tags ?? {}), request.requireApproval ? 1 : 0, actor);
      const row = this.get(id);
      this.audit.record(actor, 'token.create', id, { uses: row.maxUses, expiresAt: row.expiresAt });
      return row;
    })();
    return { ...created, token };
  }

  get(id: string): RegistrationToken {
    const row = this.db.prepare('SELECT * FROM registration_tokens WHERE id = ?').get(id) as TokenRow | undefined;
    if (!row) throw new TetherError('NOT_FOUND', `No token ${id}`);
    return toToken(row);
  }

  list(): RegistrationToken[] {
    return (this.db.prepare('SELECT * FROM registration_tokens ORDER BY created_at DESC').all() as TokenRow[]).map(toToken);
  }

  revoke(id: string, actor: string): RegistrationToken {
    const info = this.db.prepare('UPDATE registration_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(this.now(), id);
    if (info.changes === 0) this.get(id);
    this.audit.record(actor, 'token.revoke', id);
    return this.get(id);
  }

  /**
   * Spends one use of a token, or throws its stable code. Call inside the transaction that
   * creates the device, so a failed enrolment does not use the token up.
   */
  spend(secret: string): RegistrationToken {
    const row = this.db.prepare('SELECT * FROM registration_tokens WHERE secret_hash = ?').get(hashSecret(secret)) as TokenRow | undefined;
    if (!row) throw new TetherError('TOKEN_INVALID');
    if (row.revoked_at !== null) throw new TetherError('TOKEN_REVOKED');
    if (row.expires_at !== null && row.expires_at <= this.now()) throw new TetherError('TOKEN_EXPIRED');
    if (row.max_uses !== null && row.uses >= row.max_uses) throw new TetherError('TOKEN_USED_UP');
    this.db.prepare('UPDATE registration_tokens SET uses = uses + 1 WHERE id = ?').run(row.id);
    return toToken({ ...row, uses: row.uses + 1 });
  }
}
