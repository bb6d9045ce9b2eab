import { randomBytes } from 'node:crypto';
import { DeviceScope, parseOrThrow, TetherError, Username, type Role, type User, type UserInfo } from '../../protocol/index.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { Stores } from '../store/stores.js';
import { hashPassword, hashSecret, newSecret, verifyPassword } from './secrets.js';
import { newTotpSecret, totpStep, totpUrl } from './totp.js';
import type { UserCredentials, UserEditRefusal, UserStore } from './user-store.js';

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

export interface LoginInput {
  username: string;
  password: string;
  totp?: string;
  recoveryCode?: string;
}

/** Where a login came from, for its audit entry. */
export interface LoginOrigin {
  ip?: string;
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

type SecondFactor = { totp?: string; recoveryCode?: string };

/**
 * Users, their second factor and their login sessions. Every change is audited here, in the
 * transaction that makes it, for the API and the CLI alike: `actor` as the audit log names it
 * (`user:<name>` for the API, `cli:<os user>` for the CLI, `system` for the first admin); a user's
 * own log-ins, log-outs and second-factor changes are recorded as `user:<their name>`.
 */
export class UserService {
  private readonly sessionEnded = new Set<(userId: number) => void>();
  private readonly sessionsChanged = new Set<(userId: number | null) => void>();
  private readonly sessionTtlMs: number;
  private readonly idleTtlMs: number;
  private readonly sessionCache = new Map<string, CachedSession>();
  /**
   * Bumped by every invalidation. An authentication that read the database before a change
   * committed must not put what it read into the cache after the change cleared it.
   */
  private cacheEpoch = 0;

  constructor(private readonly stores: Stores, private readonly audit: AuditLog, private readonly now: () => number = Date.now, options: UserServiceOptions = {}) {
    this.sessionTtlMs = options.sessionTtlMs ?? SESSION_TTL_MS;
    this.idleTtlMs = options.idleTtlMs ?? SESSION_IDLE_MS;
  }

  count(): Promise<number> {
    return this.stores.users.count();
  }

  async add(username: string, password: string, role: Role, scope: DeviceScope, actor: string): Promise<UserInfo> {
    // Parsed here too: the CLI reaches this without the HTTP layer's schema.
    parseOrThrow(Username, username, 'username');
    parseOrThrow(DeviceScope, scope, 'scope');
    checkPassword(password);
    const passwordHash = await hashPassword(password);
    // One transaction: a user never exists without its audit entry.
    return this.stores.transaction(async (tx) => {
      const created = await tx.users.insert({ username, passwordHash, role, scope, createdAt: this.now() });
      if (created === 'USERNAME_TAKEN') throw new TetherError('CONFLICT', `User ${username} exists`);
      await this.audit.record(actor, 'user.create', `user:${username}`, { role, scope }, tx);
      return created;
    });
  }

  list(): Promise<UserInfo[]> {
    return this.stores.users.list();
  }

  async info(id: number): Promise<UserInfo> {
    const user = await this.stores.users.find(id);
    if (!user) throw new TetherError('NOT_FOUND', 'No such user');
    return user;
  }

  /**
   * Changes role, scope or password. The last admin keeps the admin role (LAST_ADMIN). Any change
   * ends the user's sessions, so new rights (or a reset password) take effect at once.
   */
  async update(id: number, changes: UserChanges, actor: string): Promise<UserInfo> {
    if (changes.password !== undefined) checkPassword(changes.password);
    const passwordHash = changes.password === undefined ? undefined : await hashPassword(changes.password);
    const updated = await this.stores.transaction(async (tx) => {
      const user = refused(await tx.users.update(id, { role: changes.role, scope: changes.scope, passwordHash }));
      await tx.users.endSessions(id);
      // Never the password itself, only that it changed.
      await this.audit.record(actor, 'user.update', `user:${user.username}`, {
        ...(changes.role !== undefined && { role: changes.role }),
        ...(changes.scope !== undefined && { scope: changes.scope }),
        ...(changes.password !== undefined && { password: 'changed' }),
      }, tx);
      return user;
    });
    this.notifyEnded(id);
    return updated;
  }

  /** Deletes a user and their sessions; never the last admin (LAST_ADMIN). */
  async remove(id: number, actor: string): Promise<UserInfo> {
    const removed = await this.stores.transaction(async (tx) => {
      const user = refused(await tx.users.remove(id));
      await this.audit.record(actor, 'user.delete', `user:${user.username}`, { role: user.role }, tx);
      return user;
    });
    this.notifyEnded(id);
    return removed;
  }

  /**
   * Checks the password, then the second factor when the user has one, and opens a session.
   * An unknown user and a wrong password give the same error. With TOTP enabled and neither
   * code given, TOTP_REQUIRED tells the console to ask for one. Logins and failed logins are audited.
   */
  async login(input: LoginInput, origin: LoginOrigin = {}): Promise<{ token: string; user: User; expiresAt: number }> {
    const account = await this.stores.users.credentials(input.username);
    const ok = account ? await verifyPassword(input.password, account.passwordHash) : await verifyPassword(input.password, DUMMY_HASH);
    if (!account || !ok) throw await this.loginFailed(input.username, origin);
    const factor = account.totpSecret === null ? null : input.totp !== undefined ? 'totp' : input.recoveryCode !== undefined ? 'recovery' : undefined;
    if (factor === undefined) throw new TetherError('TOTP_REQUIRED');
    const token = newSecret('ts_');
    const now = this.now();
    const expiresAt = now + this.sessionTtlMs;
    const outcome = await this.stores.transaction(async (tx) => {
      if (factor !== null && !(await this.secondFactor(account, input, tx.users))) return 'BAD_CODE';
      // Refused when the password changed since it was checked above: that change ended every session.
      if (!(await tx.users.openSession({ tokenHash: hashSecret(token), userId: account.user.id, createdAt: now, expiresAt }, account.passwordHash))) return 'GONE';
      await this.audit.record(`user:${account.user.username}`, 'auth.login', null, { ...origin, secondFactor: factor }, tx);
      return 'OPEN';
    });
    if (outcome === 'BAD_CODE') throw await this.loginFailed(input.username, origin, 'Wrong or already used code');
    if (outcome === 'GONE') throw await this.loginFailed(input.username, origin);
    return { token, user: account.user, expiresAt };
  }

  /** The user behind a session token, or SESSION_INVALID (unknown, past its absolute expiry or idle too long). */
  async authenticate(token: string): Promise<User> {
    const hash = hashSecret(token);
    const key = hash.toString('base64');
    const now = this.now();
    const cached = this.sessionCache.get(key);
    if (cached && now - cached.checkedAt < AUTH_CACHE_MS && cached.expiresAt > now && now - cached.lastSeen < SEEN_WRITE_INTERVAL_MS) return cached.user;
    const epoch = this.cacheEpoch;
    const session = await this.stores.users.findSession(hash);
    if (!session) {
      this.sessionCache.delete(key);
      throw new TetherError('SESSION_INVALID');
    }
    let lastSeen = session.lastSeenAt;
    if (session.expiresAt <= now || now - lastSeen >= this.idleTtlMs) {
      await this.stores.users.endSession(hash);
      this.sessionCache.delete(key);
      throw new TetherError('SESSION_INVALID');
    }
    if (now - lastSeen >= SEEN_WRITE_INTERVAL_MS) {
      await this.stores.users.touchSession(hash, now);
      lastSeen = now;
    }
    if (epoch === this.cacheEpoch) {
      if (this.sessionCache.size >= AUTH_CACHE_MAX) this.sessionCache.clear();
      this.sessionCache.set(key, { user: session.user, expiresAt: session.expiresAt, lastSeen, checkedAt: now });
    }
    return session.user;
  }

  /** Ends one session (audited as its user's log-out). */
  async logout(token: string): Promise<void> {
    const hash = hashSecret(token);
    await this.stores.transaction(async (tx) => {
      const userId = await tx.users.endSession(hash);
      const user = userId === undefined ? undefined : await tx.users.find(userId);
      if (user) await this.audit.record(`user:${user.username}`, 'auth.logout', null, {}, tx);
    });
    this.sessionCache.delete(hash.toString('base64'));
    this.cacheEpoch++;
    for (const listener of this.sessionsChanged) listener(null);
  }

  /** Ends every session of a user (all devices and browsers), audits it and tells listeners, which close live sockets. */
  async endSessions(userId: number, actor: string): Promise<number> {
    const ended = await this.stores.transaction(async (tx) => {
      const user = await tx.users.find(userId);
      if (!user) throw new TetherError('NOT_FOUND', 'No such user');
      const count = await tx.users.endSessions(userId);
      await this.audit.record(actor, 'auth.logout_all', `user:${user.username}`, { sessions: count }, tx);
      return count;
    });
    this.notifyEnded(userId);
    return ended;
  }

  /** Called after a user's sessions were ended (logout everywhere, password/role change, deletion). */
  onSessionsEnded(listener: (userId: number) => void): () => void {
    this.sessionEnded.add(listener);
    return () => this.sessionEnded.delete(listener);
  }

  /** Starts TOTP enrolment: a new pending secret that takes effect only once a code from it is confirmed. */
  async totpSetup(userId: number): Promise<{ secret: string; otpauthUrl: string }> {
    const account = await this.account(userId);
    const secret = newTotpSecret();
    if (account.totpSecret !== null || !(await this.stores.users.setPendingTotp(userId, secret))) {
      throw new TetherError('CONFLICT', 'TOTP is already enabled; disable it first');
    }
    return { secret, otpauthUrl: totpUrl(secret, account.user.username) };
  }

  /** Confirms the pending secret with a code from it; returns ten one-time recovery codes, shown once. */
  async totpEnable(userId: number, code: string): Promise<string[]> {
    const account = await this.account(userId);
    if (account.totpSecret !== null) throw new TetherError('CONFLICT', 'TOTP is already enabled');
    const pending = account.totpPendingSecret;
    if (pending === null) throw new TetherError('CONFLICT', 'Start with /auth/totp/setup');
    const step = totpStep(pending, code, this.now());
    if (step === null) throw new TetherError('BAD_REQUEST', 'The code does not match; check the device clock');
    const codes = Array.from({ length: RECOVERY_CODES }, newRecoveryCode);
    const hashes = codes.map((c) => hashSecret(normaliseRecoveryCode(c)));
    await this.stores.transaction(async (tx) => {
      if (!(await tx.users.enableTotp(userId, pending, step, hashes))) throw new TetherError('CONFLICT', 'TOTP was enabled or set up again meanwhile');
      const name = `user:${account.user.username}`;
      await this.audit.record(name, 'auth.totp.enable', name, {}, tx);
    });
    return codes;
  }

  /** Turns TOTP off; needs a current code or an unused recovery code (a stolen session alone is not enough). */
  async totpDisable(userId: number, code: string): Promise<void> {
    const account = await this.account(userId);
    const secret = account.totpSecret;
    if (secret === null) throw new TetherError('CONFLICT', 'TOTP is not enabled');
    const factor = /^\d{6}$/.test(code) ? { totp: code } : { recoveryCode: code };
    await this.stores.transaction(async (tx) => {
      if (!(await this.secondFactor(account, factor, tx.users))) throw new TetherError('BAD_REQUEST', 'Wrong or already used code');
      if (!(await tx.users.disableTotp(userId, secret))) throw new TetherError('CONFLICT', 'TOTP is not enabled');
      const name = `user:${account.user.username}`;
      await this.audit.record(name, 'auth.totp.disable', name, {}, tx);
    });
  }

  /** A TOTP code of a step newer than the last accepted one, or an unused recovery code (then spent); both atomic in the store. */
  private async secondFactor(account: UserCredentials, input: SecondFactor, users: UserStore): Promise<boolean> {
    const secret = account.totpSecret;
    if (secret === null) return false;
    if (input.totp !== undefined) {
      const step = totpStep(secret, input.totp, this.now());
      return step !== null && users.useTotpStep(account.user.id, secret, step);
    }
    if (input.recoveryCode !== undefined) {
      return users.useRecoveryCode(account.user.id, hashSecret(normaliseRecoveryCode(input.recoveryCode)), this.now());
    }
    return false;
  }

  /** Audits a failed login and returns the error to throw. */
  private async loginFailed(username: string, origin: LoginOrigin, message?: string): Promise<TetherError> {
    await this.audit.record(`user:${username}`, 'auth.login.failed', null, { ...origin });
    return new TetherError('LOGIN_FAILED', message);
  }

  private async account(id: number): Promise<UserCredentials> {
    const account = await this.stores.users.credentialsById(id);
    if (!account) throw new TetherError('NOT_FOUND', 'No such user');
    return account;
  }

  /**
   * Another cluster node changed sessions: with a user id, that user's sessions ended (their
   * cache entries go, listeners close their sockets); with null, a log-out whose session this
   * node cannot tell from the token hash alone, so every cached session is checked again.
   */
  forgetSessions(userId: number | null): void {
    this.cacheEpoch++;
    if (userId === null) {
      this.sessionCache.clear();
      return;
    }
    for (const [key, cached] of this.sessionCache) if (cached.user.id === userId) this.sessionCache.delete(key);
    for (const listener of this.sessionEnded) listener(userId);
  }

  /** Called after any session change made through this service (to tell the other cluster nodes). */
  onSessionsChanged(listener: (userId: number | null) => void): () => void {
    this.sessionsChanged.add(listener);
    return () => this.sessionsChanged.delete(listener);
  }

  private notifyEnded(userId: number): void {
    this.forgetSessions(userId);
    for (const listener of this.sessionsChanged) listener(userId);
  }
}

function checkPassword(password: string): void {
  if (password.length < 8) throw new TetherError('BAD_REQUEST', 'The password needs at least 8 characters');
}

function refused(result: UserInfo | UserEditRefusal): UserInfo {
  if (result === 'NOT_FOUND') throw new TetherError('NOT_FOUND', 'No such user');
  if (result === 'LAST_ADMIN') throw new TetherError('LAST_ADMIN');
  return result;
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
