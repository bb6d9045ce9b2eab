import { sql, type Kysely, type Selectable } from 'kysely';
import type { DeviceScope, User, UserInfo } from '../../../protocol/index.js';
import type { NewSession, NewUser, SessionOwner, UserCredentials, UserEdit, UserEditRefusal, UserStore } from '../../auth/user-store.js';
import type { SqlContext } from '../engine.js';
import type { StoreSchema, UsersTable } from '../schema.js';
import { isUniqueViolation } from './unique-violation.js';

/**
 * PostgreSQL transaction-level advisory lock taken by every role change and deletion: the
 * last-admin rule spans rows, which no single conditional UPDATE can hold under READ COMMITTED.
 * SQLite needs none: a transaction holds the only connection until it commits.
 */
const ADMIN_CHANGE_LOCK = 7_415_263_101;

type UserRow = Selectable<UsersTable>;

function scopeText(scope: DeviceScope): string | null {
  return scope && Object.keys(scope).length > 0 ? JSON.stringify(scope) : null;
}

function parseScope(text: string | null): DeviceScope {
  return text ? (JSON.parse(text) as Record<string, string>) : null;
}

function toUser(row: Pick<UserRow, 'id' | 'username' | 'role' | 'scope'>): User & { scope: DeviceScope } {
  return { id: row.id, username: row.username, role: row.role, scope: parseScope(row.scope) };
}

function toInfo(row: UserRow): UserInfo {
  return { ...toUser(row), totpEnabled: row.totp_secret !== null, createdAt: row.created_at };
}

function toCredentials(row: UserRow): UserCredentials {
  return { user: toUser(row), passwordHash: row.password_hash, totpSecret: row.totp_secret, totpPendingSecret: row.totp_pending_secret };
}

export class SqlUserStore implements UserStore {
  constructor(private readonly ctx: SqlContext) {}

  async count(): Promise<number> {
    const row = await this.ctx.db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async insert(user: NewUser): Promise<UserInfo | 'USERNAME_TAKEN'> {
    try {
      const row = await this.ctx.db.insertInto('users').values({
        username: user.username, password_hash: user.passwordHash, role: user.role, scope: scopeText(user.scope), created_at: user.createdAt,
      }).returningAll().executeTakeFirstOrThrow();
      return toInfo(row);
    } catch (err) {
      // On PostgreSQL this also aborts an enclosing transaction: the caller must give up on it.
      if (isUniqueViolation(err)) return 'USERNAME_TAKEN';
      throw err;
    }
  }

  async list(): Promise<UserInfo[]> {
    const rows = await this.ctx.db.selectFrom('users').selectAll().orderBy('username').execute();
    return rows.map(toInfo);
  }

  async find(id: number): Promise<UserInfo | undefined> {
    const row = await this.ctx.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toInfo(row) : undefined;
  }

  async credentials(username: string): Promise<UserCredentials | undefined> {
    const row = await this.ctx.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
    return row ? toCredentials(row) : undefined;
  }

  async credentialsById(id: number): Promise<UserCredentials | undefined> {
    const row = await this.ctx.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toCredentials(row) : undefined;
  }

  update(id: number, edit: UserEdit): Promise<UserInfo | UserEditRefusal> {
    return this.atomically(async (db) => {
      if (edit.role !== undefined && edit.role !== 'admin') {
        const refusal = await this.keepAnAdmin(db, id);
        if (refusal) return refusal;
      }
      const set = {
        ...(edit.role !== undefined && { role: edit.role }),
        ...(edit.scope !== undefined && { scope: scopeText(edit.scope) }),
        ...(edit.passwordHash !== undefined && { password_hash: edit.passwordHash }),
      };
      // One statement for every field: concurrent edits leave one of the requested rows, never a mix.
      const row = Object.keys(set).length === 0
        ? await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst()
        : await db.updateTable('users').set(set).where('id', '=', id).returningAll().executeTakeFirst();
      return row ? toInfo(row) : 'NOT_FOUND';
    });
  }

  remove(id: number): Promise<UserInfo | UserEditRefusal> {
    return this.atomically(async (db) => {
      const refusal = await this.keepAnAdmin(db, id);
      if (refusal) return refusal;
      await db.deleteFrom('sessions').where('user_id', '=', id).execute();
      await db.deleteFrom('recovery_codes').where('user_id', '=', id).execute();
      const row = await db.deleteFrom('users').where('id', '=', id).returningAll().executeTakeFirst();
      return row ? toInfo(row) : 'NOT_FOUND';
    });
  }

  openSession(session: NewSession, passwordHash: string): Promise<boolean> {
    return this.atomically(async (db) => {
      // FOR SHARE waits for a password change in flight and then sees its new hash; once held, the
      // change waits for this session to commit and so ends it with the others.
      const owner = await db.selectFrom('users').select('id').where('id', '=', session.userId).where('password_hash', '=', passwordHash)
        .$if(this.ctx.engine === 'postgres', (q) => q.forShare()).executeTakeFirst();
      if (!owner) return false;
      await db.insertInto('sessions').values({
        token_hash: session.tokenHash, user_id: session.userId, created_at: session.createdAt, expires_at: session.expiresAt, last_seen_at: session.createdAt,
      }).execute();
      return true;
    });
  }

  async findSession(tokenHash: Buffer): Promise<SessionOwner | undefined> {
    const row = await this.ctx.db.selectFrom('sessions as s').innerJoin('users as u', 'u.id', 's.user_id')
      .select(['u.id', 'u.username', 'u.role', 'u.scope', 's.expires_at', 's.last_seen_at'])
      .where('s.token_hash', '=', tokenHash).executeTakeFirst();
    return row ? { user: toUser(row), expiresAt: row.expires_at, lastSeenAt: row.last_seen_at ?? 0 } : undefined;
  }

  async touchSession(tokenHash: Buffer, at: number): Promise<void> {
    await this.ctx.db.updateTable('sessions').set({ last_seen_at: at }).where('token_hash', '=', tokenHash)
      .where((eb) => eb.or([eb('last_seen_at', 'is', null), eb('last_seen_at', '<', at)])).execute();
  }

  async endSession(tokenHash: Buffer): Promise<number | undefined> {
    const row = await this.ctx.db.deleteFrom('sessions').where('token_hash', '=', tokenHash).returning('user_id').executeTakeFirst();
    return row?.user_id;
  }

  async endSessions(userId: number): Promise<number> {
    const result = await this.ctx.db.deleteFrom('sessions').where('user_id', '=', userId).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async setPendingTotp(userId: number, secret: string): Promise<boolean> {
    const result = await this.ctx.db.updateTable('users').set({ totp_pending_secret: secret }).where('id', '=', userId).where('totp_secret', 'is', null).executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  enableTotp(userId: number, pendingSecret: string, step: number, recoveryCodeHashes: readonly Buffer[]): Promise<boolean> {
    return this.atomically(async (db) => {
      const enabled = await db.updateTable('users')
        .set((eb) => ({ totp_secret: eb.ref('totp_pending_secret'), totp_pending_secret: null, totp_last_counter: step }))
        .where('id', '=', userId).where('totp_secret', 'is', null).where('totp_pending_secret', '=', pendingSecret)
        .executeTakeFirst();
      if (enabled.numUpdatedRows === 0n) return false;
      await db.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
      if (recoveryCodeHashes.length > 0) {
        await db.insertInto('recovery_codes').values(recoveryCodeHashes.map((codeHash) => ({ user_id: userId, code_hash: codeHash, used_at: null }))).execute();
      }
      return true;
    });
  }

  disableTotp(userId: number, secret: string): Promise<boolean> {
    return this.atomically(async (db) => {
      const disabled = await db.updateTable('users').set({ totp_secret: null, totp_pending_secret: null, totp_last_counter: null })
        .where('id', '=', userId).where('totp_secret', '=', secret).executeTakeFirst();
      if (disabled.numUpdatedRows === 0n) return false;
      await db.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
      return true;
    });
  }

  async useTotpStep(userId: number, secret: string, step: number): Promise<boolean> {
    // On PostgreSQL a concurrent UPDATE of the row waits for the first and re-checks the condition
    // against its result, so the step is taken once.
    const result = await this.ctx.db.updateTable('users').set({ totp_last_counter: step })
      .where('id', '=', userId).where('totp_secret', '=', secret)
      .where((eb) => eb.or([eb('totp_last_counter', 'is', null), eb('totp_last_counter', '<', step)]))
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async useRecoveryCode(userId: number, codeHash: Buffer, at: number): Promise<boolean> {
    const result = await this.ctx.db.updateTable('recovery_codes').set({ used_at: at })
      .where('user_id', '=', userId).where('code_hash', '=', codeHash).where('used_at', 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /**
   * Inside the transaction that demotes or deletes user `id`: NOT_FOUND, LAST_ADMIN when `id` is
   * the only admin, else nothing. On PostgreSQL it first takes the admin-change lock, so the count
   * it reads stays true until the change commits.
   */
  private async keepAnAdmin(db: Kysely<StoreSchema>, id: number): Promise<UserEditRefusal | undefined> {
    if (this.ctx.engine === 'postgres') await sql`SELECT pg_advisory_xact_lock(${ADMIN_CHANGE_LOCK})`.execute(db);
    const row = await db.selectFrom('users').select('role').where('id', '=', id).executeTakeFirst();
    if (!row) return 'NOT_FOUND';
    if (row.role !== 'admin') return undefined;
    const admins = await db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).where('role', '=', 'admin').executeTakeFirstOrThrow();
    return Number(admins.n) <= 1 ? 'LAST_ADMIN' : undefined;
  }

  /** Runs `fn` in the enclosing transaction, or in a new one. */
  private atomically<T>(fn: (db: Kysely<StoreSchema>) => Promise<T>): Promise<T> {
    return this.ctx.db.isTransaction ? fn(this.ctx.db) : this.ctx.db.transaction().execute(fn);
  }
}
