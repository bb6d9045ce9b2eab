import { expect, it } from 'vitest';
import { TetherError, type DeviceScope, type ErrorCode, type Role } from '../../protocol/index.js';
import { AuditLog } from '../../backend/audit/audit-log.js';
import { hashSecret } from '../../backend/auth/secrets.js';
import { totpCode } from '../../backend/auth/totp.js';
import type { UserStore } from '../../backend/auth/user-store.js';
import { SESSION_IDLE_MS, SESSION_TTL_MS, UserService } from '../../backend/auth/users.js';
import { ensureFirstAdmin } from '../../backend/main.js';
import { describeEachEngine } from './engines.js';

async function codeOf(action: () => unknown): Promise<ErrorCode | 'ok'> {
  try {
    await action();
    return 'ok';
  } catch (err) {
    if (err instanceof TetherError) return err.code;
    throw err;
  }
}

describeEachEngine('users, sessions and second factor', (store) => {
  function setup() {
    const clock = { now: Date.UTC(2026, 0, 1, 12, 0, 0) };
    const { stores } = store();
    const users = new UserService(stores, new AuditLog(stores, () => clock.now), () => clock.now);
    const audit = async (query: { target?: string; actor?: string; action?: string } = {}) =>
      (await stores.audit.query(query, 1000)).map((e) => ({ actor: e.actor, action: e.action, target: e.target, details: e.details }));
    return { clock, stores, users, audit };
  }

  it('never removes or demotes the last admin, and allows it once another admin exists', async () => {
    const { users } = setup();
    const admin = await users.add('root', 'password1', 'admin', null, 'test');
    expect(await codeOf(() => users.update(admin.id, { role: 'operator' }, 'test'))).toBe('LAST_ADMIN');
    expect(await codeOf(() => users.remove(admin.id, 'test'))).toBe('LAST_ADMIN');
    expect((await users.info(admin.id)).role).toBe('admin');
    const second = await users.add('second', 'password2', 'admin', null, 'test');
    expect((await users.update(admin.id, { role: 'viewer' }, 'test')).role).toBe('viewer');
    expect(await codeOf(() => users.remove(second.id, 'test'))).toBe('LAST_ADMIN');
    expect(await codeOf(() => users.remove(admin.id, 'test'))).toBe('ok');
    expect((await users.list()).map((u) => u.username)).toEqual(['second']);
    expect(await codeOf(() => users.update(admin.id, { role: 'operator' }, 'test'))).toBe('NOT_FOUND');
    expect(await codeOf(() => users.update(admin.id, { scope: { site: 'x' } }, 'test'))).toBe('NOT_FOUND');
    expect(await codeOf(() => users.remove(admin.id, 'test'))).toBe('NOT_FOUND');
    expect(await users.count()).toBe(1);
  });

  it('refuses a taken username with CONFLICT from the unique constraint, also when ten adds race, and audits the one it creates', async () => {
    const { users, audit } = setup();
    await users.add('root', 'password1', 'admin', null, 'test');
    expect(await codeOf(() => users.add('root', 'password2', 'viewer', null, 'test'))).toBe('CONFLICT');
    const codes = await Promise.all(Array.from({ length: 10 }, (_, i) => codeOf(() => users.add('dup', `password-${i}`, 'viewer', null, `cli:u${i}`))));
    expect(codes.filter((c) => c === 'ok')).toHaveLength(1);
    expect(codes.filter((c) => c === 'CONFLICT')).toHaveLength(9);
    expect((await users.list()).map((u) => u.username)).toEqual(['dup', 'root']);
    expect(await audit({ target: 'user:dup' })).toEqual([{ actor: expect.stringMatching(/^cli:u\d$/), action: 'user.create', target: 'user:dup', details: { role: 'viewer', scope: null } }]);
  });

  it('creates the first admin once when two backends start on one database at the same moment', async () => {
    const { stores } = store();
    const nodes = [0, 1].map(() => new UserService(stores, new AuditLog(stores)));
    const started = await Promise.all(nodes.map((users) => ensureFirstAdmin(users, 'first-password')));
    expect(started.map((s) => s.created).sort()).toEqual([false, true]);
    expect((await nodes[0]?.list())?.map((u) => `${u.username} ${u.role}`)).toEqual(['admin admin']);
  });

  it('two admins demoting or deleting each other at once leave one admin', async () => {
    const { users } = setup();
    const a = await users.add('a-admin', 'password1', 'admin', null, 'test');
    const b = await users.add('b-admin', 'password1', 'admin', null, 'test');
    const demoted = await Promise.all([codeOf(() => users.update(a.id, { role: 'viewer' }, 'test')), codeOf(() => users.update(b.id, { role: 'operator' }, 'test'))]);
    expect(demoted.sort()).toEqual(['LAST_ADMIN', 'ok']);
    expect((await users.list()).filter((u) => u.role === 'admin')).toHaveLength(1);

    const c = await users.add('c-admin', 'password1', 'admin', null, 'test');
    const [admin] = (await users.list()).filter((u) => u.role === 'admin' && u.id !== c.id);
    if (!admin) throw new Error('no admin left');
    const removed = await Promise.all([codeOf(() => users.remove(admin.id, 'test')), codeOf(() => users.remove(c.id, 'test'))]);
    expect(removed.sort()).toEqual(['LAST_ADMIN', 'ok']);
    expect((await users.list()).filter((u) => u.role === 'admin')).toHaveLength(1);
  });

  it('stores a scope and hands it out with the session user', async () => {
    const { users } = setup();
    await users.add('ops', 'password1', 'operator', { site: 'berlin' }, 'test');
    const session = await users.login({ username: 'ops', password: 'password1' });
    expect(await users.authenticate(session.token)).toMatchObject({ username: 'ops', scope: { site: 'berlin' } });
    expect((await users.list())[0]).toMatchObject({ scope: { site: 'berlin' }, totpEnabled: false });
  });

  it('ends the sessions of a user whose role or password changes, tells listeners, and audits every change with its actor', async () => {
    const { users, audit } = setup();
    await users.add('root', 'password1', 'admin', null, 'test');
    const op = await users.add('op', 'password1', 'operator', null, 'cli:root');
    const ended: number[] = [];
    users.onSessionsEnded((id) => ended.push(id));
    const session = await users.login({ username: 'op', password: 'password1' });
    await users.update(op.id, { role: 'viewer', scope: { site: 'lyon' } }, 'user:root');
    expect(await codeOf(() => users.authenticate(session.token))).toBe('SESSION_INVALID');
    const again = await users.login({ username: 'op', password: 'password1' });
    await users.update(op.id, { password: 'password2' }, 'user:root');
    expect(await codeOf(() => users.authenticate(again.token))).toBe('SESSION_INVALID');
    expect(await codeOf(() => users.login({ username: 'op', password: 'password1' }))).toBe('LOGIN_FAILED');
    expect(ended).toEqual([op.id, op.id]);
    await users.remove(op.id, 'user:root');
    expect(await audit({ target: 'user:op' })).toEqual([
      { actor: 'user:root', action: 'user.delete', target: 'user:op', details: { role: 'viewer' } },
      { actor: 'user:root', action: 'user.update', target: 'user:op', details: { password: 'changed' } },
      { actor: 'user:root', action: 'user.update', target: 'user:op', details: { role: 'viewer', scope: { site: 'lyon' } } },
      { actor: 'cli:root', action: 'user.create', target: 'user:op', details: { role: 'operator', scope: null } },
    ]);
  });

  it('audits logins, failed logins, log-out and log-out everywhere', async () => {
    const { users, audit } = setup();
    const root = await users.add('root', 'password1', 'admin', null, 'test');
    expect(await codeOf(() => users.login({ username: 'root', password: 'wrong-pass' }, { ip: '10.0.0.1' }))).toBe('LOGIN_FAILED');
    expect(await codeOf(() => users.login({ username: 'nobody', password: 'wrong-pass' }, { ip: '10.0.0.1' }))).toBe('LOGIN_FAILED');
    const one = await users.login({ username: 'root', password: 'password1' }, { ip: '10.0.0.2' });
    const two = await users.login({ username: 'root', password: 'password1' }, { ip: '10.0.0.3' });
    const three = await users.login({ username: 'root', password: 'password1' }, { ip: '10.0.0.3' });
    await users.authenticate(one.token);
    await users.logout(one.token);
    expect(await codeOf(() => users.authenticate(one.token))).toBe('SESSION_INVALID');
    expect(await users.endSessions(root.id, 'user:root')).toBe(2);
    expect(await codeOf(() => users.authenticate(two.token))).toBe('SESSION_INVALID');
    expect(await codeOf(() => users.authenticate(three.token))).toBe('SESSION_INVALID');
    expect(await codeOf(() => users.endSessions(9999, 'user:root'))).toBe('NOT_FOUND');
    expect((await audit({ action: 'auth.*' })).reverse()).toEqual([
      { actor: 'user:root', action: 'auth.login.failed', target: null, details: { ip: '10.0.0.1' } },
      { actor: 'user:nobody', action: 'auth.login.failed', target: null, details: { ip: '10.0.0.1' } },
      { actor: 'user:root', action: 'auth.login', target: null, details: { ip: '10.0.0.2', secondFactor: null } },
      { actor: 'user:root', action: 'auth.login', target: null, details: { ip: '10.0.0.3', secondFactor: null } },
      { actor: 'user:root', action: 'auth.login', target: null, details: { ip: '10.0.0.3', secondFactor: null } },
      { actor: 'user:root', action: 'auth.logout', target: null, details: {} },
      { actor: 'user:root', action: 'auth.logout_all', target: 'user:root', details: { sessions: 2 } },
    ]);
  });

  it('trusts an authenticated session for a few seconds without the database, and forgets it at once on log-out, role change or deletion', async () => {
    const { users, clock, stores } = setup();
    await users.add('root', 'password1', 'admin', null, 'test');
    const op = await users.add('op', 'password1', 'operator', null, 'test');
    const login = () => users.login({ username: 'op', password: 'password1' });
    const cached = await login();
    await users.authenticate(cached.token);
    // A row deleted behind the service's back is only noticed once the cache entry is old.
    await stores.users.endSessions(op.id);
    expect((await users.authenticate(cached.token)).username).toBe('op');
    clock.now += 5_000;
    expect(await codeOf(() => users.authenticate(cached.token))).toBe('SESSION_INVALID');

    const out = await login();
    await users.authenticate(out.token);
    await users.logout(out.token);
    expect(await codeOf(() => users.authenticate(out.token))).toBe('SESSION_INVALID');

    const demoted = await login();
    expect((await users.authenticate(demoted.token)).role).toBe('operator');
    await users.update(op.id, { role: 'viewer' }, 'test');
    expect(await codeOf(() => users.authenticate(demoted.token))).toBe('SESSION_INVALID');
    const viewer = await login();
    expect((await users.authenticate(viewer.token)).role).toBe('viewer');
    await users.endSessions(op.id, 'test');
    expect(await codeOf(() => users.authenticate(viewer.token))).toBe('SESSION_INVALID');

    const removed = await login();
    await users.authenticate(removed.token);
    await users.remove(op.id, 'test');
    expect(await codeOf(() => users.authenticate(removed.token))).toBe('SESSION_INVALID');
  });

  it('does not cache what an authentication read before a role change committed', async () => {
    const { clock, stores } = setup();
    const real = stores.users;
    let read: () => void = () => undefined;
    let release: () => void = () => undefined;
    const wasRead = new Promise<void>((resolve) => (read = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    // The first session lookup answers only once the test lets it: the change commits in between.
    let held = false;
    const users: UserStore = Object.assign(Object.create(real) as UserStore, {
      findSession: async (hash: Buffer) => {
        const found = await real.findSession(hash);
        if (!held) {
          held = true;
          read();
          await released;
        }
        return found;
      },
    });
    const service = new UserService({ ...stores, users }, new AuditLog(stores, () => clock.now), () => clock.now);
    await service.add('root', 'password1', 'admin', null, 'test');
    const op = await service.add('op', 'password1', 'operator', null, 'test');
    const session = await service.login({ username: 'op', password: 'password1' });
    const early = service.authenticate(session.token);
    await wasRead;
    await service.update(op.id, { role: 'viewer' }, 'test');
    release();
    // It started before the change: it may answer as it read. What it read must not be kept.
    expect((await early).role).toBe('operator');
    expect(await codeOf(() => service.authenticate(session.token))).toBe('SESSION_INVALID');
  });

  it('expires a session after the idle time, sliding with use, and at the absolute expiry whatever the use', async () => {
    const { users, clock, stores } = setup();
    await users.add('root', 'password1', 'admin', null, 'test');
    const idle = await users.login({ username: 'root', password: 'password1' });
    clock.now += SESSION_IDLE_MS - 1000;
    expect((await users.authenticate(idle.token)).username).toBe('root');
    // Use slid the idle window: another almost-idle period is still fine.
    clock.now += SESSION_IDLE_MS - 1000;
    expect((await users.authenticate(idle.token)).username).toBe('root');
    clock.now += SESSION_IDLE_MS;
    expect(await codeOf(() => users.authenticate(idle.token))).toBe('SESSION_INVALID');
    // The idle session's row is gone, not just refused.
    expect(await stores.users.findSession(hashSecret(idle.token))).toBeUndefined();

    const busy = await users.login({ username: 'root', password: 'password1' });
    const lastSeen = async () => (await stores.users.findSession(hashSecret(busy.token)))?.lastSeenAt;
    const opened = await lastSeen();
    expect(opened).toBe(clock.now);
    clock.now += 30_000;
    await users.authenticate(busy.token);
    expect(await lastSeen()).toBe(opened); // no write within a minute of the last one
    clock.now += 31_000;
    await users.authenticate(busy.token);
    expect(await lastSeen()).toBe(clock.now);
    // last_seen_at only moves forward.
    await stores.users.touchSession(hashSecret(busy.token), clock.now - 10_000);
    expect(await lastSeen()).toBe(clock.now);
    for (let t = 0; t < SESSION_TTL_MS; t += 3600_000) {
      clock.now += 3600_000;
      if (t + 3600_000 < SESSION_TTL_MS - 61_000) expect((await users.authenticate(busy.token)).username).toBe('root');
    }
    expect(await codeOf(() => users.authenticate(busy.token))).toBe('SESSION_INVALID');
  });

  it('TOTP: pending until confirmed, then required, a code works once per window, a recovery code once; enabling and disabling audited', async () => {
    const { users, clock, audit } = setup();
    const user = await users.add('root', 'password1', 'admin', null, 'test');
    const { secret, otpauthUrl } = await users.totpSetup(user.id);
    expect(otpauthUrl).toMatch(/^otpauth:\/\/totp\/Tether:root\?/);
    // Pending: login still works with the password alone.
    expect(await codeOf(() => users.login({ username: 'root', password: 'password1' }))).toBe('ok');
    expect(await codeOf(() => users.totpEnable(user.id, '000000' === totpCode(secret, clock.now) ? '111111' : '000000'))).toBe('BAD_REQUEST');
    const recovery = await users.totpEnable(user.id, totpCode(secret, clock.now));
    expect(recovery).toHaveLength(10);
    expect(new Set(recovery).size).toBe(10);
    expect((await users.info(user.id)).totpEnabled).toBe(true);
    expect(await codeOf(() => users.totpSetup(user.id))).toBe('CONFLICT');
    expect(await codeOf(() => users.totpEnable(user.id, totpCode(secret, clock.now)))).toBe('CONFLICT');

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
    await users.totpDisable(user.id, recovery[1] ?? '');
    expect((await users.info(user.id)).totpEnabled).toBe(false);
    expect(await codeOf(() => users.totpDisable(user.id, recovery[2] ?? ''))).toBe('CONFLICT');
    expect(await codeOf(() => users.login({ username: 'root', password: 'password1' }))).toBe('ok');

    const actions = (await audit({ actor: 'user:root' })).reverse().map((e) => `${e.action} ${String(e.details.secondFactor ?? '')}`.trim());
    expect(actions).toEqual([
      'auth.login', 'auth.totp.enable', 'auth.login.failed', 'auth.login.failed', 'auth.login totp', 'auth.login.failed', 'auth.login.failed',
      'auth.login.failed', 'auth.login recovery', 'auth.login.failed', 'auth.totp.disable', 'auth.login',
    ]);
    expect((await audit({ action: 'auth.totp.enable' }))[0]?.target).toBe('user:root');
  });

  it('of ten concurrent logins with one TOTP code, exactly one gets a session', async () => {
    const { users, clock } = setup();
    const user = await users.add('root', 'password1', 'admin', null, 'test');
    const { secret } = await users.totpSetup(user.id);
    await users.totpEnable(user.id, totpCode(secret, clock.now));
    clock.now += 30_000;
    const code = totpCode(secret, clock.now);
    const codes = await Promise.all(Array.from({ length: 10 }, () => codeOf(() => users.login({ username: 'root', password: 'password1', totp: code }))));
    expect(codes.filter((c) => c === 'ok')).toHaveLength(1);
    expect(codes.filter((c) => c === 'LOGIN_FAILED')).toHaveLength(9);
  });

  it('of ten concurrent logins with one recovery code, exactly one gets a session', async () => {
    const { users, clock } = setup();
    const user = await users.add('root', 'password1', 'admin', null, 'test');
    const { secret } = await users.totpSetup(user.id);
    const [recovery] = await users.totpEnable(user.id, totpCode(secret, clock.now));
    const codes = await Promise.all(Array.from({ length: 10 }, () => codeOf(() => users.login({ username: 'root', password: 'password1', recoveryCode: recovery }))));
    expect(codes.filter((c) => c === 'ok')).toHaveLength(1);
    expect(codes.filter((c) => c === 'LOGIN_FAILED')).toHaveLength(9);
  });

  it('the store takes a TOTP step and a recovery code once, whoever races for them', async () => {
    const { users, clock, stores } = setup();
    const user = await users.add('root', 'password1', 'admin', null, 'test');
    const { secret } = await users.totpSetup(user.id);
    const [code] = await users.totpEnable(user.id, totpCode(secret, clock.now));
    const step = Math.floor(clock.now / 30_000) + 1;
    const steps = await Promise.all(Array.from({ length: 20 }, () => stores.users.useTotpStep(user.id, secret, step)));
    expect(steps.filter(Boolean)).toHaveLength(1);
    // Only forward: an older step is refused after a newer one.
    expect(await stores.users.useTotpStep(user.id, secret, step - 1)).toBe(false);
    expect(await stores.users.useTotpStep(user.id, 'AAAA', step + 1)).toBe(false);
    const hash = hashSecret((code ?? '').replace(/-/g, ''));
    const spent = await Promise.all(Array.from({ length: 20 }, () => stores.users.useRecoveryCode(user.id, hash, clock.now)));
    expect(spent.filter(Boolean)).toHaveLength(1);
  });

  it('concurrent edits of one user leave one requested state, audit each change in commit order, and never leave a stale session or cache entry', async () => {
    const { users, audit } = setup();
    await users.add('root', 'password1', 'admin', null, 'test');
    const op = await users.add('op', 'old-password', 'operator', null, 'test');
    const before = await Promise.all(Array.from({ length: 3 }, () => users.login({ username: 'op', password: 'old-password' })));
    for (const s of before) await users.authenticate(s.token);

    const roles: Role[] = ['viewer', 'operator', 'admin'];
    const requested = Array.from({ length: 10 }, (_, i) => ({ role: roles[i % 3] ?? 'viewer', scope: (i % 4 === 0 ? null : { site: `site-${i}` }) as DeviceScope }));
    let editing = true;
    // Authentications running alongside the edits: what they read must not outlive the edits in the cache.
    const readers = before.map(async (s) => {
      while (editing) {
        await codeOf(() => users.authenticate(s.token));
        // A cache hit resolves at once: give the edits' I/O a turn.
        await new Promise((resolve) => setImmediate(resolve));
      }
    });
    // Logins that checked the old password while it changed must not leave a live session.
    const oldLogins = Array.from({ length: 3 }, () => users.login({ username: 'op', password: 'old-password' }).then((s) => s.token, () => undefined));
    const edits = Promise.all([
      ...requested.map((r) => users.update(op.id, r, 'user:root')),
      users.update(op.id, { password: 'new-password' }, 'user:root'),
    ]);
    const results = await edits;
    editing = false;
    await Promise.all(readers);
    expect(results).toHaveLength(11);

    const final = await users.info(op.id);
    expect(requested).toContainEqual({ role: final.role, scope: final.scope });
    const entries = await audit({ target: 'user:op', action: 'user.update' });
    expect(entries).toHaveLength(11);
    expect(entries.every((e) => e.actor === 'user:root')).toBe(true);
    expect(entries.map((e) => e.details)).toEqual(expect.arrayContaining([...requested, { password: 'changed' }]));
    // Audit order is commit order: the newest role/scope entry is the row's state.
    expect(entries.find((e) => 'role' in e.details)?.details).toEqual({ role: final.role, scope: final.scope });

    for (const s of before) expect(await codeOf(() => users.authenticate(s.token))).toBe('SESSION_INVALID');
    for (const token of await Promise.all(oldLogins)) if (token) expect(await codeOf(() => users.authenticate(token))).toBe('SESSION_INVALID');
    expect(await codeOf(() => users.login({ username: 'op', password: 'old-password' }))).toBe('LOGIN_FAILED');
    const fresh = await users.login({ username: 'op', password: 'new-password' });
    expect(await users.authenticate(fresh.token)).toMatchObject({ role: final.role, scope: final.scope });
  });
});
