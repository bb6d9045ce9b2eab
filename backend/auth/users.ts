import { TetherError, type Role, type User } from '../../protocol/index.js';
import type { Db } from '../store/db.js';
import { hashPassword, hashSecret, newSecret, verifyPassword } from './secrets.js';

const SESSION_TTL_MS = 12 * 3600 * 1000;

interface UserRow { id: number; username: string; role: Role; password_hash: string }

/** Users and their login sessions. */
export class UserService {
  constructor(private readonly db: Db, private readonly now: () => number = Date.now) {}

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM users').get() as { n: number }).n;
  }

  async add(username: string, password: string, role: Role): Promise<User> {
    if (password.length < 8) throw new TetherError('BAD_REQUEST', 'The password needs at least 8 characters');
    const hash = await hashPassword(password);
    try {
      const info = this.db
        .prepare('INSERT INTO users(username, password_hash, role, created_at) VALUES (?,?,?,?)')
        .run(username, hash, role, this.now());
      return { id: Number(info.lastInsertRowid), username, role };
    } catch (err) {
      if (err instanceof Error && /UNIQUE/.test(err.message)) throw new TetherError('CONFLICT', `User ${username} exists`);
      throw err;
    }
  }

  /** Checks the password and opens a session; the same error for an unknown user and a wrong password. */
  async login(username: string, password: string): Promise<{ token: string; user: User; expiresAt: number }> {
    const row = this.db.prepare('SELECT id, username, role, password_hash FROM users WHERE username = ?').get(username) as UserRow | undefined;
    const ok = row ? await verifyPassword(password, row.password_hash) : await verifyPassword(password, DUMMY_HASH);
    if (!row || !ok) throw new TetherError('LOGIN_FAILED');
    const token = newSecret('ts_');
    const expiresAt = this.now() + SESSION_TTL_MS;
    this.db.prepare('INSERT INTO sessions(token_hash, user_id, created_at, expires_at) VALUES (?,?,?,?)')
      .run(hashSecret(token), row.id, this.now(), expiresAt);
    return { token, user: { id: row.id, username: row.username, role: row.role }, expiresAt };
  }

  /** The user behind a session token, or SESSION_INVALID. */
  authenticate(token: string): User {
    const row = this.db
      .prepare('SELECT u.id, u.username, u.role, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?')
      .get(hashSecret(token)) as (User & { expires_at: number }) | undefined;
    if (!row || row.expires_at <= this.now()) throw new TetherError('SESSION_INVALID');
    return { id: row.id, username: row.username, role: row.role };
  }

  logout(token: string): void {
    this.db.prepare('DELETE FROM sessions WHERE token_hash = ?').run(hashSecret(token));
  }
}

// Spends the same scrypt time for unknown users, so timing does not reveal which usernames exist.
const DUMMY_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
