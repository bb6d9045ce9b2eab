import { randomBytes } from 'node:crypto';
import { parseOrThrow, TetherError, TokenCreateRequest, type RegistrationToken } from '../../protocol/index.js';
import type { AuditLog } from '../audit/audit-log.js';
import { hashSecret, newSecret } from '../auth/secrets.js';
import type { Stores } from '../store/stores.js';

/**
 * Registration tokens: created by admins, spent by devices at enrolment. Only hashes are stored.
 * Creating and revoking are audited here, so the API and the CLI record them alike.
 */
export class TokenService {
  constructor(private readonly stores: Stores, private readonly audit: AuditLog, private readonly now: () => number = Date.now) {}

  /** `actor` as the audit log names it: `user:<name>` for the API, `cli:<os user>` for the CLI. */
  async create(input: TokenCreateRequest, actor: string): Promise<RegistrationToken & { token: string }> {
    // Parsed here too: the CLI reaches this without the HTTP layer's schema.
    const request = parseOrThrow(TokenCreateRequest, input, 'token');
    const id = `tok_${randomBytes(8).toString('hex')}`;
    const token = newSecret('trt_');
    const createdAt = this.now();
    const expiresAt = request.ttlSeconds ? createdAt + request.ttlSeconds * 1000 : null;
    // One transaction: a token never exists without its audit entry.
    const created = await this.stores.transaction(async (tx) => {
      await tx.tokens.insert({
        id, secretHash: hashSecret(token), createdAt, expiresAt, maxUses: request.uses ?? null,
        tags: request.tags ?? {}, requireApproval: request.requireApproval ?? false, createdBy: actor,
      });
      const row = await this.get(id, tx);
      await this.audit.record(actor, 'token.create', id, { uses: row.maxUses, expiresAt: row.expiresAt }, tx);
      return row;
    });
    return { ...created, token };
  }

  async get(id: string, stores: Pick<Stores, 'tokens'> = this.stores): Promise<RegistrationToken> {
    const token = await stores.tokens.find(id);
    if (!token) throw new TetherError('NOT_FOUND', `No token ${id}`);
    return token;
  }

  list(): Promise<RegistrationToken[]> {
    return this.stores.tokens.list();
  }

  async revoke(id: string, actor: string): Promise<RegistrationToken> {
    return this.stores.transaction(async (tx) => {
      if (!(await tx.tokens.revoke(id, this.now()))) await this.get(id, tx);
      await this.audit.record(actor, 'token.revoke', id, {}, tx);
      return this.get(id, tx);
    });
  }

  /**
   * Spends one use of a token, or throws its stable code. Call inside the transaction that
   * creates the device (`tx`), so a failed enrolment does not use the token up.
   */
  async spend(secret: string, tx: Pick<Stores, 'tokens'>): Promise<RegistrationToken> {
    const spent = await tx.tokens.spend(hashSecret(secret), this.now());
    if (typeof spent === 'string') throw new TetherError(spent);
    return spent;
  }
}
