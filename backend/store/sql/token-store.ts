import type { Selectable } from 'kysely';
import type { RegistrationToken, Tags } from '../../../protocol/index.js';
import type { NewToken, SpendRefusal, TokenStore } from '../../enrol/token-store.js';
import type { SqlContext } from '../engine.js';
import type { RegistrationTokensTable } from '../schema.js';

function toToken(row: Selectable<RegistrationTokensTable>): RegistrationToken {
  return {
    id: row.id, createdAt: row.created_at, expiresAt: row.expires_at, maxUses: row.max_uses, uses: row.uses,
    tags: JSON.parse(row.tags) as Tags, requireApproval: row.require_approval === 1, revokedAt: row.revoked_at,
  };
}

export class SqlTokenStore implements TokenStore {
  constructor(private readonly ctx: SqlContext) {}

  async insert(t: NewToken): Promise<void> {
    await this.ctx.db.insertInto('registration_tokens').values({
      id: t.id, secret_hash: t.secretHash, created_at: t.createdAt, expires_at: t.expiresAt, max_uses: t.maxUses,
      tags: JSON.stringify(t.tags), require_approval: t.requireApproval ? 1 : 0, created_by: t.createdBy,
    }).execute();
  }

  async find(id: string): Promise<RegistrationToken | undefined> {
    const row = await this.ctx.db.selectFrom('registration_tokens').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toToken(row) : undefined;
  }

  async list(): Promise<RegistrationToken[]> {
    const rows = await this.ctx.db.selectFrom('registration_tokens').selectAll().orderBy('created_at', 'desc').orderBy('id').execute();
    return rows.map(toToken);
  }

  async revoke(id: string, at: number): Promise<boolean> {
    const result = await this.ctx.db.updateTable('registration_tokens').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async spend(secretHash: Buffer, now: number): Promise<RegistrationToken | SpendRefusal> {
    const spent = await this.ctx.db.updateTable('registration_tokens')
      .set((eb) => ({ uses: eb('uses', '+', 1) }))
      .where('secret_hash', '=', secretHash)
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
      .where((eb) => eb.or([eb('max_uses', 'is', null), eb('uses', '<', eb.ref('max_uses'))]))
      .returningAll()
      .executeTakeFirst();
    if (spent) return toToken(spent);
    // Not spent: read why, for the error the device gets.
    const row = await this.ctx.db.selectFrom('registration_tokens').selectAll().where('secret_hash', '=', secretHash).executeTakeFirst();
    if (!row) return 'TOKEN_INVALID';
    if (row.revoked_at !== null) return 'TOKEN_REVOKED';
    if (row.expires_at !== null && row.expires_at <= now) return 'TOKEN_EXPIRED';
    return 'TOKEN_USED_UP';
  }
}
