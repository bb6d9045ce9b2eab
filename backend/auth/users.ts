import { randomBytes } from 'node:crypto';
import { DeviceScope, parseOrThrow, TetherError, Username, type Role, type User, type UserInfo } from '../../protocol/index.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { Db } from '../store/sqlite/db.js';
import { hashPassword, hashSecret, newSecret, verifyPassword } from './secrets.js';
import { newTotpSecret, totpStep, totpUrl } from './totp.js';

export const SESSION_TTL_MS = 12 * 3600 * 1000;
/** A session unused for this long ends, whatever its absolute expiry. */
export const SESSION_IDLE_MS = 2 * 3600 * 1000;
/** last_seen_at is written at most this often, so an active console does not cost a write per request. */
const SEEN_WRITE_INTERVAL_MS = 60_000;
/**
 * How long an authenticated session is trusted without reading the database again: every API
 * request and socket authenticates, and a SELECT with a join per request is the hot path's cost.
 * Log-out, "log out everywhere", role and scope changes and deletion go through this service and
 * clear the cache at once; only a session row deleted behind its back lives on for this long.
 */
const AUTH_CACHE_MS = 5_000;
const AUTH_CACHE_MAX = 10_000;

interface CachedSession {
  user: User;
  expiresAt: number;
  lastSeen: number;
  checkedAt: number;
}
const RECOVERY_CODES = 10;

interface UserRow {
  id: number;
  username: string;
  role: Role;
  password_hash: string;
  scope: string | null;
  created_at: number;
  totp_secret: string | null;
  totp_pending_secret: string | null;
  totp_last_counter: number | null;
}

export interface LoginInput {
  username: string;
  password: string;
  totp?: string;
  recoveryCode?: string;
}

export interface UserChanges {
  role?: Role;
  scope?: DeviceScope;
  password?: string;
}

export interface UserServiceOptions {
  sessionTtlMs?: number;
  idleTtlMs?: number;
}

/** Users, their second factor and their login sessions. Creating a user is audited here, for the API and the CLI alike. */
export class UserService {
  private readonly sessionEnded = new Set<(userId: number) => void>();
  private readonly sessionTtlMs: number;
  private readonly idleTtlMs: number;
  private readonly sessionCache = new Map<string, CachedSession>();

  constructor(private readonly db: Db, private readonly audit: AuditLog, private readonly now: () => number = Date.now, options: UserServiceOptions = {}) {
    this.sessionTtlMs = options.sessionTtlMs ?? SESSION_TTL_MS;
    this.idleTtlMs = options.idleTtlMs ?? SESSION_IDLE_MS;
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM users').get() as { n: number }).n;
  }

  /** `actor` as the audit log names it: `user:<name>` for the API, `cli:<os user>` for the CLI, `system` for the first admin. */
  async add(username: string, password: string, role: Role, scope: DeviceScope, actor: string): Promise<User> {
    // Parsed here too: the CLI reaches this without the HTTP layer's schema.
    parseOrThrow(Username, username, 'username');
    parseOrThrow(DeviceScope, scope, 'scope');
    if (password.length < 8) throw new TetherError('BAD_REQUEST', 'The password needs at least 8 characters');
    const hash = await hashPassword(password);
    try {
      const info = this.db
        .prepare('INSERT INTO users(username, password_hash, role, created_at, scope) VALUES (?,?,?,?,?)')
        .run(username, hash, role, this.now(), scopeText(scope));
      await this.audit.record(actor, 'user.create', `user:${username}`, { role, scope });
      return { id: Number(info.lastInsertRowid), username, role, scope };
    } catch (err) {
      if (err instanceof Error && /UNIQUE/.test(err.message)) throw new TetherError('CONFLICT', `User ${username} exists`);
      throw err;
    }
  }

  list(): UserInfo[] {
    return (this.db.prepare('SELECT * FROM users ORDER BY username').all() as UserRow[]).map(toInfo);
  }

  info(id: number): UserInfo {
    return toInfo(this.row(id));
  }

  /**
   * Changes role, scope or password. The last admin keeps the admin role (LAST_ADMIN). Any change
   * ends the user's sessions, so new rights (or a reset password) take effect at once.
   */
  async update(id: number, changes: UserChanges): Promise<UserInfo> {
    if (changes.password !== undefined && changes.password.length < 8) throw new TetherError('BAD_REQUEST', 'The password needs at least 8 characters');
    const hash = changes.password === undefined ? undefined : await hashPassword(changes.password);
    this.db.transaction(() => {
      const row = this.row(id);
      if (changes.role !== undefined && changes.role !== 'admin' && row.role === 'admin') this.keepAnAdmin();
      if (changes.role !== undefined) this.db.prepare('UPDATE users SET role = ? WHERE id = ?').run(changes.role, id);
      if (changes.scope !== undefined) this.db.prepare('UPDATE users SET scope = ? WHERE id = ?').run(scopeText(changes.scope), id);
      if (hash !== undefined) this.db.prepare('UPDATE users SET password_hash = ? WHERE id = ?').run(hash, id);
    })();
    this.endSessions(id);
    return this.info(id);
  }

  /** Deletes a user and their sessions; never the last admin (LAST_ADMIN). */
  remove(id: number): UserInfo {
    const info = this.db.transaction(() => {
      const row = this.row(id);
      if (row.role === 'admin') this.keepAnAdmin();
      this.db.prepare('DELETE FROM sessions WHERE user_id = ?').run(id);
      this.db.prepare('DELETE FROM users WHERE id = ?').run(id);
      return toInfo(row);
    })();
    this.notifyEnded(id);
    return info;
  }

  /**
   * Checks the password, then the second factor when the user has one, and opens a session.
   * An unknown user and a wrong password give the same error. With TOTP enabled and neither
   * code given, TOTP_REQUIRED tells the console to ask for one.
   */
  async login(input: LoginInput): Promise<{ token: string; user: User; expiresAt: number }> {
    const row = this.db.prepare('SELECT * FROM users WHERE username = ?').get(input.username) as UserRow | undefined;
    const ok = row ? await verifyPassword(input.password, row.password_hash) : await verifyPassword(input.password, DUMMY_HASH);
    if (!row || !ok) throw new TetherError('LOGIN_FAILED');
    if (row.totp_secret) {
      if (input.totp === undefined && input.recoveryCode === undefined) throw new TetherError('TOTP_REQUIRED');
      if (!this.secondFactor(row, input)) throw new TetherError('LOGIN_FAILED', 'Wrong or already used code');
    }
    const token = newSecret('ts_');
    const now = this.now();
    const expiresAt = now + this.sessionTtlMs;
    this.db.prepare('INSERT INTO sessions(token_hash, user_id, created_at, expires_at, last_seen_at) VALUES (?,?,?,?,?)')
      .run(hashSecret(token), row.id, now, expiresAt, now);
    return { token, user: toUser(row), expiresAt };
  }

  /** The user behind a session token, or SESSION_INVALID (unknown, past its absolute expiry or idle too long). */
  authenticate(token: string): User {
    const hash = hashSecret(token);
    const key = hash.toString('base64');
    const now = this.now();
    const cached = this.sessionCache.get(key);
    if (cached && now - cached.checkedAt < AUTH_CACHE_MS && cached.expiresAt > now && now - cached.lastSeen < SEEN_WRITE_INTERVAL_MS) return cached.user;
    const row = this.db
      .prepare('SELECT u.*, s.expires_at, s.last_seen_at FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?')
      .get(hash) as (UserRow & { expires_at: number; last_seen_at: number | null }) | undefined;
    if (!row) {
      this.sessionCache.delete(key);
      throw new TetherError('SESSION_INVALID');
    }
    let lastSeen = row.last_seen_at ?? 0;
    if (row.expires_at <= now || now - lastSeen >= this.idleTtlMs) {
      this.db.prepare('DELETE FROM sessions WHERE token_hash = ?').run(hash);
      this.sessionCache.delete(key);
      throw new TetherError('SESSION_INVALID');
    }
    if (now - lastSeen >= SEEN_WRITE_INTERVAL_MS) {
      this.db.prepare('UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?').run(now, hash);
      lastSeen = now;
    }
    const user = toUser(row);
    if (this.sessionCache.size >= AUTH_CACHE_MAX) this.sessionCache.clear();
    this.sessionCache.set(key, { user, expiresAt: row.expires_at, lastSeen, checkedAt: now });
    return user;
  }

  logout(token: string): void {
    const hash = hashSecret(token);
    this.db.prepare('DELETE FROM sessions WHERE token_hash = ?').run(hash);
    this.sessionCache.delete(hash.toString('base64'));
  }

  /** Ends every session of a user (all devices and browsers) and tells listeners, which close live sockets. */
  endSessions(userId: number): number {
    const { changes } = this.db.prepare('DELETE FROM sessions WHERE user_id = ?').run(userId);
    this.notifyEnded(userId);
    return changes;
  }

  /** Called after a user's sessions were ended (logout everywhere, password/role change, deletion). */
  onSessionsEnded(listener: (userId: number) => void): () => void {
    this.sessionEnded.add(listener);
    return () => this.sessionEnded.delete(listener);
  }

  /** Starts TOTP enrolment: a new pending secret that takes effect only once a code from it is confirmed. */
  totpSetup(userId: number): { secret: string; otpauthUrl: string } {
    const row = this.row(userId);
    if (row.totp_secret) throw new TetherError('CONFLICT', 'TOTP is already enabled; disable it first');
    const secret = newTotpSecret();
    this.db.prepare('UPDATE users SET totp_pending_secret = ? WHERE id = ?').run(secret, userId);
    return { secret, otpauthUrl: totpUrl(secret, row.username) };
  }

  /** Confirms the pending secret with a code from it; returns ten one-time recovery codes, shown once. */
  totpEnable(userId: number, code: string): string[] {
    const row = this.row(userId);
    if (row.totp_secret) throw new TetherError('CONFLICT', 'TOTP is already enabled');
    if (!row.totp_pending_secret) throw new TetherError('CONFLICT', 'Start with /auth/totp/setup');
    const step = totpStep(row.totp_pending_secret, code, this.now());
    if (step === null) throw new TetherError('BAD_REQUEST', 'The code does not match; check the device clock');
    const codes = Array.from({ length: RECOVERY_CODES }, newRecoveryCode);
    this.db.transaction(() => {
      this.db.prepare('UPDATE users SET totp_secret = totp_pending_secret, totp_pending_secret = NULL, totp_last_counter = ? WHERE id = ?').run(step, userId);
      this.db.prepare('DELETE FROM recovery_codes WHERE user_id = ?').run(userId);
      const insert = this.db.prepare('INSERT INTO recovery_codes(user_id, code_hash) VALUES (?,?)');
      for (const c of codes) insert.run(userId, hashSecret(normaliseRecoveryCode(c)));
    })();
    return codes;
  }

  /** Turns TOTP off; needs a current code or an unused recovery code (a stolen session alone is not enough). */
  totpDisable(userId: number, code: string): void {
    const row = this.row(userId);
    if (!row.totp_secret) throw new TetherError('CONFLICT', 'TOTP is not enabled');
    const factor = /^\d{6}$/.test(code) ? { totp: code } : { recoveryCode: code };
    if (!this.secondFactor(row, factor)) throw new TetherError('BAD_REQUEST', 'Wrong or already used code');
    this.db.transaction(() => {
      this.db.prepare('UPDATE users SET totp_secret = NULL, totp_pending_secret = NULL, totp_last_counter = NULL WHERE id = ?').run(userId);
      this.db.prepare('DELETE FROM recovery_codes WHERE user_id = ?').run(userId);
    })();
  }

  /** A TOTP code of a step newer than the last accepted one, or an unused recovery code (then spent). */
  private secondFactor(row: UserRow, input: { totp?: string; recoveryCode?: string }): boolean {
    if (!row.totp_secret) return false;
    if (input.totp !== undefined) {
      const step = totpStep(row.totp_secret, input.totp, this.now());
      if (step === null) return false;
      // The conditional update makes the replay check atomic: of two logins with one code, one wins.
      return this.db
        .prepare('UPDATE users SET totp_last_counter = ? WHERE id = ? AND (totp_last_counter IS NULL OR totp_last_counter < ?)')
        .run(step, row.id, step).changes === 1;
    }
    if (input.recoveryCode !== undefined) {
      return this.db
        .prepare('UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL')
        .run(this.now(), row.id, hashSecret(normaliseRecoveryCode(input.recoveryCode))).changes === 1;
    }
    return false;
  }

  private row(id: number): UserRow {
    const row = this.db.prepare('SELECT * FROM users WHERE id = ?').get(id) as UserRow | undefined;
    if (!row) throw new TetherError('NOT_FOUND', 'No such user');
    return row;
  }

  /** Call inside the transaction that demotes or deletes an admin. */
  private keepAnAdmin(): void {
    const { n } = this.db.prepare("SELECT count(*) AS n FROM users WHERE role = 'admin'").get() as { n: number };
    if (n <= 1) throw new TetherError('LAST_ADMIN');
  }

  private notifyEnded(userId: number): void {
    for (const [key, cached] of this.sessionCache) if (cached.user.id === userId) this.sessionCache.delete(key);
    for (const listener of this.sessionEnded) listener(userId);
  }
}

function scopeText(scope: DeviceScope | undefined): string | null {
  return scope && Object.keys(scope).length > 0 ? JSON.stringify(scope) : null;
}

function parseScope(text: string | null): DeviceScope {
  return text ? (JSON.parse(text) as Record<string, string>) : null;
}

function toUser(row: UserRow): User {
  return { id: row.id, username: row.username, role: row.role, scope: parseScope(row.scope) };
}

function toInfo(row: UserRow): UserInfo {
  return { id: row.id, username: row.username, role: row.role, scope: parseScope(row.scope), totpEnabled: row.totp_secret !== null, createdAt: row.created_at };
}

/**
 * 80 random bits as four groups of four base32 letters. SHA-256 is enough to store them: with
 * 80 bits there is no dictionary to try, unlike a password.
 */
function newRecoveryCode(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const bytes = randomBytes(16);
  let out = '';
  for (let i = 0; i < 16; i++) {
    out += alphabet[(bytes[i] ?? 0) & 31];
    if (i % 4 === 3 && i < 15) out += '-';
  }
  return out;
}

function normaliseRecoveryCode(code: string): string {
  return code.toLowerCase().replace(/[^a-z2-7]/g, '');
}

// Spends the same scrypt time for unknown users, so timing does not reveal which usernames exist.
const DUMMY_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
