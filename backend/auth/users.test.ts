import { describe, expect, it } from 'vitest';
import { TetherError, type ErrorCode } from '../../protocol/index.js';
import { AuditLog } from '../audit/audit-log.js';
import { storesOnSqlite } from '../store/open-store.js';
import { openDatabase } from '../store/sqlite/db.js';
import { MAIN_MIGRATIONS } from '../store/migrations.js';
import { totpCode } from './totp.js';
import { SESSION_IDLE_MS, SESSION_TTL_MS, UserService } from './users.js';

async function codeOf(action: () => unknown): Promise<ErrorCode | 'ok'> {
  try {
    await action();
    return 'ok';
  } catch (err) {
    if (err instanceof TetherError) return err.code;
    throw err;
  }
}

function setup() {
  const clock = { now: Date.UTC(2026, 0, 1, 12, 0, 0) };
  const db = openDatabase(':memory:', MAIN_MIGRATIONS);
  const users = new UserService(db, new AuditLog(storesOnSqlite(db), () => clock.now), () => clock.now);
  return { clock, db, users };
}

describe('UserService', () => {
  it('never removes or demotes the last admin, and allows it once another admin exists', async () => {
    const { users } = setup();
    const admin = await users.add('root', 'password1', 'admin', null, 'test');
    expect(await codeOf(() => users.update(admin.id, { role: 'operator' }))).toBe('LAST_ADMIN');
    expect(await codeOf(() => users.remove(admin.id))).toBe('LAST_ADMIN');
    expect(users.info(admin.id).role).toBe('admin');
    const second = await users.add('second', 'password2', 'admin', null, 'test');
    expect((await users.update(admin.id, { role: 'viewer' })).role).toBe('viewer');
    expect(await codeOf(() => users.remove(second.id))).toBe('LAST_ADMIN');
    expect(await codeOf(() => users.remove(admin.id))).toBe('ok');
    expect(users.list().map((u) => u.username)).toEqual(['second']);
  });

  it('stores a scope and hands it out with the session user', async () => {
    const { users } = setup();
    await users.add('ops', 'password1', 'operator', { site: 'berlin' }, 'test');
    const session = await users.login({ username: 'ops', password: 'password1' });
    expect(users.authenticate(session.token)).toMatchObject({ username: 'ops', scope: { site: 'berlin' } });
    expect(users.list()[0]).toMatchObject({ scope: { site: 'berlin' }, totpEnabled: false });
  });

  it('ends the sessions of a user whose role or password changes, and tells listeners', async () => {
    const { users } = setup();
    await users.add('root', 'password1', 'admin', null, 'test');
    const op = await users.add('op', 'password1', 'operator', null, 'test');
    const ended: number[] = [];
    users.onSessionsEnded((id) => ended.push(id));
    const session = await users.login({ username: 'op', password: 'password1' });
    await users.update(op.id, { role: 'viewer' });
    expect(await codeOf(() => users.authenticate(session.token))).toBe('SESSION_INVALID');
    const again = await users.login({ username: 'op', password: 'password1' });
    await users.update(op.id, { password: 'password2' });
    expect(await codeOf(() => users.authenticate(again.token))).toBe('SESSION_INVALID');
    expect(await codeOf(() => users.login({ username: 'op', password: 'password1' }))).toBe('LOGIN_FAILED');
    expect(ended).toEqual([op.id, op.id]);
  });

  it('trusts an authenticated session for a few seconds without the database, and forgets it at once on log-out, role change or deletion', async () => {
    const { users, clock, db } = setup();
    await users.add('root', 'password1', 'admin', null, 'test');
    const op = await users.add('op', 'password1', 'operator', null, 'test');
    const login = () => users.login({ username: 'op', password: 'password1' });
    const cached = await login();
    users.authenticate(cached.token);
    // A row deleted behind the service's back is only noticed once the cache entry is old.
    db.prepare('DELETE FROM sessions').run();
    expect(users.authenticate(cached.token).username).toBe('op');
    clock.now += 5_000;
    expect(await codeOf(() => users.authenticate(cached.token))).toBe('SESSION_INVALID');

    const out = await login();
    users.authenticate(out.token);
    users.logout(out.token);
    expect(await codeOf(() => users.authenticate(out.token))).toBe('SESSION_INVALID');

    const demoted = await login();
    expect(users.authenticate(demoted.token).role).toBe('operator');
    await users.update(op.id, { role: 'viewer' });
    expect(await codeOf(() => users.authenticate(demoted.token))).toBe('SESSION_INVALID');
    const viewer = await login();
    expect(users.authenticate(viewer.token).role).toBe('viewer');
    users.endSessions(op.id);
    expect(await codeOf(() => users.authenticate(viewer.token))).toBe('SESSION_INVALID');

    const removed = await login();
    users.authenticate(removed.token);
    users.remove(op.id);
    expect(await codeOf(() => users.authenticate(removed.token))).toBe('SESSION_INVALID');
  });

  it('expires a session after the idle time, sliding with use, and at the absolute expiry whatever the use', async () => {
    const { users, clock, db } = setup();
    await users.add('root', 'password1', 'admin', null, 'test');
    const idle = await users.login({ username: 'root', password: 'password1' });
    clock.now += SESSION_IDLE_MS - 1000;
    expect(users.authenticate(idle.token).username).toBe('root');
    // Use slid the idle window: another almost-idle period is still fine.
    clock.now += SESSION_IDLE_MS - 1000;
    expect(users.authenticate(idle.token).username).toBe('root');
    clock.now += SESSION_IDLE_MS;
    expect(await codeOf(() => users.authenticate(idle.token))).toBe('SESSION_INVALID');

    const busy = await users.login({ username: 'root', password: 'password1' });
    const writes = () => (db.prepare('SELECT last_seen_at FROM sessions').get() as { last_seen_at: number }).last_seen_at;
    const opened = writes();
    clock.now += 30_000;
    users.authenticate(busy.token);
    expect(writes()).toBe(opened); // no write within a minute of the last one
    for (let t = 0; t < SESSION_TTL_MS; t += 3600_000) {
      clock.now += 3600_000;
      if (t + 3600_000 < SESSION_TTL_MS - 30_000) expect(users.authenticate(busy.token).username).toBe('root');
    }
    expect(await codeOf(() => users.authenticate(busy.token))).toBe('SESSION_INVALID');
  });

  it('TOTP: pending until confirmed, then required, a code works once per window, a recovery code once', async () => {
    const { users, clock } = setup();
    const user = await users.add('root', 'password1', 'admin', null, 'test');
    const { secret, otpauthUrl } = users.totpSetup(user.id);
    expect(otpauthUrl).toMatch(/^otpauth:\/\/totp\/Tether:root\?/);
    // Pending: login still works with the password alone.
    expect(await codeOf(() => users.login({ username: 'root', password: 'password1' }))).toBe('ok');
    expect(await codeOf(() => users.totpEnable(user.id, '000000'))).toBe('BAD_REQUEST');
    const recovery = users.totpEnable(user.id, totpCode(secret, clock.now));
    expect(recovery).toHaveLength(10);
    expect(new Set(recovery).size).toBe(10);
    expect(users.info(user.id).totpEnabled).toBe(true);

    expect(await codeOf(() => users.login({ username: 'root', password: 'password1' }))).toBe('TOTP_REQUIRED');
    expect(await codeOf(() => users.login({ username: 'root', password: 'wrong-pass' }))).toBe('LOGIN_FAILED');
    // The code that enabled TOTP belongs to a step already used.
    expect(await codeOf(() => users.login({ username: 'root', password: 'password1', totp: totpCode(secret, clock.now) }))).toBe('LOGIN_FAILED');
    clock.now += 30_000;
    const code = totpCode(secret, clock.now);
    expect(await codeOf(() => users.login({ username: 'root', password: 'password1', totp: code }))).toBe('ok');
    expect(await codeOf(() => users.login({ username: 'root', password: 'password1', totp: code }))).toBe('LOGIN_FAILED');
    // A code of the previous step (inside the drift window) is a replay too once a newer one was used.
    expect(await codeOf(() => users.login({ username: 'root', password: 'password1', totp: totpCode(secret, clock.now - 30_000) }))).toBe('LOGIN_FAILED');
    expect(await codeOf(() => users.login({ username: 'root', password: 'password1', totp: '123456' === code ? '654321' : '123456' }))).toBe('LOGIN_FAILED');

    const [first] = recovery;
    expect(await codeOf(() => users.login({ username: 'root', password: 'password1', recoveryCode: first?.toUpperCase() }))).toBe('ok');
    expect(await codeOf(() => users.login({ username: 'root', password: 'password1', recoveryCode: first }))).toBe('LOGIN_FAILED');

    expect(await codeOf(() => users.totpDisable(user.id, recovery[0] ?? ''))).toBe('BAD_REQUEST');
    users.totpDisable(user.id, recovery[1] ?? '');
    expect(users.info(user.id).totpEnabled).toBe(false);
    expect(await codeOf(() => users.login({ username: 'root', password: 'password1' }))).toBe('ok');
  });
});
