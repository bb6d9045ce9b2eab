import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { Secret, TOTP } from 'otpauth';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry, AuditPage, Device, JobPreview, TotpSetupResponse, UserInfo } from '../../protocol/index.js';
import { api, cleanup, createToken, enrolAndRun, login, registerAgent, startBackend, tempDir, waitFor, type Backend } from '../harness.js';

describe('users and access on a real backend', () => {
  let backend: Backend;
  let admin: string;
  const dirs: string[] = [];
  const devices: Record<'berlin' | 'paris', string> = { berlin: '', paris: '' };

  const call = (method: string, path: string, token?: string, body?: unknown) => api(backend, method, path, { token, body });
  const loginAs = async (username: string, password: string, extra: Record<string, string> = {}) =>
    call('POST', '/api/v1/auth/login', undefined, { username, password, ...extra });
  const addUser = async (username: string, role: string, scope?: Record<string, string>): Promise<UserInfo> => {
    const res = await call('POST', '/api/v1/users', admin, { username, password: `${username}-password`, role, scope });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body as UserInfo;
  };
  const tokenOf = async (username: string): Promise<string> => {
    const res = await loginAs(username, `${username}-password`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return (res.body as { token: string }).token;
  };
  const consoleSocket = (token: string) =>
    new WebSocket(new URL('/api/v1/console', backend.url.replace('https:', 'wss:')).href, { ca: backend.caCertPem, headers: { authorization: `Bearer ${token}` } });

  beforeAll(async () => {
    backend = await startBackend();
    admin = await login(backend);
    // Two enrolled devices (their agents need not run): one per site.
    for (const site of ['berlin', 'paris'] as const) {
      const state = tempDir('agent');
      dirs.push(state);
      const reg = await registerAgent(backend, await createToken(backend, admin, { tags: { site } }), state, ['--name', site]);
      expect(reg.code, reg.output).toBe(0);
      devices[site] = (JSON.parse(readFileSync(join(state, 'state.json'), 'utf8')) as { deviceId: string }).deviceId;
    }
  });

  afterAll(async () => {
    await backend.stop();
    cleanup(backend.home, ...dirs);
  });

  it('admins manage users; the last admin can be neither demoted nor deleted; every change is audited', async () => {
    const viewer = await addUser('vera', 'viewer');
    expect(viewer).toMatchObject({ username: 'vera', role: 'viewer', scope: null, totpEnabled: false });
    expect((await call('POST', '/api/v1/users', admin, { username: 'vera', password: 'whatever-1', role: 'viewer' })).body).toMatchObject({ code: 'CONFLICT' });
    const list = (await call('GET', '/api/v1/users', admin)).body as { users: UserInfo[] };
    const adminId = list.users.find((u) => u.username === 'admin')?.id;
    expect(list.users.map((u) => u.username)).toEqual(expect.arrayContaining(['admin', 'vera']));

    expect((await call('PATCH', `/api/v1/users/${adminId}`, admin, { role: 'operator' })).body).toMatchObject({ code: 'LAST_ADMIN' });
    expect((await call('DELETE', `/api/v1/users/${adminId}`, admin)).body).toMatchObject({ code: 'LAST_ADMIN' });
    expect((await call('PATCH', '/api/v1/users/999999', admin, { role: 'operator' })).body).toMatchObject({ code: 'NOT_FOUND' });

    const vera = await tokenOf('vera');
    expect((await call('GET', '/api/v1/users', vera)).body).toMatchObject({ code: 'FORBIDDEN' });
    // A role change ends the user's sessions, so the new rights apply at once.
    expect((await call('PATCH', `/api/v1/users/${viewer.id}`, admin, { role: 'operator', scope: { site: 'berlin' } })).body).toMatchObject({ role: 'operator', scope: { site: 'berlin' } });
    expect((await call('GET', '/api/v1/auth/me', vera)).body).toMatchObject({ code: 'SESSION_INVALID' });
    expect((await call('DELETE', `/api/v1/users/${viewer.id}`, admin)).status).toBe(204);
    expect((await loginAs('vera', 'vera-password')).body).toMatchObject({ code: 'LOGIN_FAILED' });

    const audit = (await call('GET', '/api/v1/audit?target=user:vera&limit=10', admin)).body as AuditPage;
    expect(audit.entries.map((e) => e.action)).toEqual(['user.delete', 'user.update', 'user.create']);
    expect(audit.entries[1]?.details).toEqual({ role: 'operator', scope: { site: 'berlin' } });
    expect(audit.entries.every((e) => e.actor === 'user:admin')).toBe(true);
  });

  it('TOTP: setup, enable with a code, then login needs a code, refuses a replayed one, and takes a recovery code once', async () => {
    await addUser('tom', 'viewer');
    const tom = await tokenOf('tom');
    const setup = (await call('POST', '/api/v1/auth/totp/setup', tom)).body as TotpSetupResponse;
    expect(setup.otpauthUrl).toContain(`secret=${setup.secret}`);
    const totp = new TOTP({ secret: Secret.fromBase32(setup.secret), digits: 6, period: 30, algorithm: 'SHA1' });
    expect((await call('POST', '/api/v1/auth/totp/enable', tom, { code: totp.generate({ timestamp: Date.now() - 10 * 60_000 }) })).body).toMatchObject({ code: 'BAD_REQUEST' });
    const enabled = await call('POST', '/api/v1/auth/totp/enable', tom, { code: totp.generate() });
    expect(enabled.status, JSON.stringify(enabled.body)).toBe(200);
    const { recoveryCodes } = enabled.body as { recoveryCodes: string[] };
    expect(recoveryCodes).toHaveLength(10);
    expect((await call('GET', '/api/v1/auth/account', tom)).body).toMatchObject({ user: { username: 'tom', totpEnabled: true } });

    const needs = await loginAs('tom', 'tom-password');
    expect(needs).toMatchObject({ status: 401, body: { code: 'TOTP_REQUIRED' } });
    expect((await loginAs('tom', 'wrong-password')).body).toMatchObject({ code: 'LOGIN_FAILED' });
    expect((await loginAs('tom', 'tom-password', { totp: '000000' === totp.generate() ? '111111' : '000000' })).body).toMatchObject({ code: 'LOGIN_FAILED' });
    // The enabling code's time step is spent; wait for the next step for a fresh code.
    const step = () => Math.floor(Date.now() / 30_000);
    const enabledStep = step();
    await waitFor(() => step() > enabledStep, 31_000, 'the next TOTP step');
    const code = totp.generate();
    expect((await loginAs('tom', 'tom-password', { totp: code })).status).toBe(200);
    expect((await loginAs('tom', 'tom-password', { totp: code })).body).toMatchObject({ code: 'LOGIN_FAILED' });

    expect((await loginAs('tom', 'tom-password', { recoveryCode: recoveryCodes[0] ?? '' })).status).toBe(200);
    expect((await loginAs('tom', 'tom-password', { recoveryCode: recoveryCodes[0] ?? '' })).body).toMatchObject({ code: 'LOGIN_FAILED' });
    const audit = (await call('GET', '/api/v1/audit?actor=user:tom&action=auth.*&limit=1000', admin)).body as AuditPage;
    expect(audit.entries.map((e) => e.action)).toEqual(expect.arrayContaining(['auth.totp.enable', 'auth.login', 'auth.login.failed']));
  }, 60_000);

  it('throttles failed logins per username and address with 429 RATE_LIMITED and Retry-After; other users are unaffected', async () => {
    await addUser('tina', 'viewer');
    for (let i = 0; i < 5; i++) expect((await loginAs('tina', 'nope-nope')).body).toMatchObject({ code: 'LOGIN_FAILED' });
    const refused = await loginAs('tina', 'tina-password');
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ code: 'RATE_LIMITED' });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(800);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(900);
    expect((await loginAs('admin', 'correct horse battery staple')).status).toBe(200);
  });

  it('logout-all ends every session of the user, the current one included, and closes their console sockets', async () => {
    await addUser('lou', 'operator');
    const [a, b] = [await tokenOf('lou'), await tokenOf('lou')];
    const ws = consoleSocket(b);
    await new Promise((ok, fail) => ws.once('open', ok).once('error', fail));
    const closed = new Promise<{ code: number; reason: string }>((done) => ws.once('close', (code, reason) => done({ code, reason: reason.toString() })));
    expect((await call('POST', '/api/v1/auth/logout-all', a)).status).toBe(204);
    expect(await closed).toEqual({ code: 4401, reason: 'SESSION_INVALID' });
    expect((await call('GET', '/api/v1/auth/me', a)).body).toMatchObject({ code: 'SESSION_INVALID' });
    expect((await call('GET', '/api/v1/auth/me', b)).body).toMatchObject({ code: 'SESSION_INVALID' });
    expect((await call('GET', '/api/v1/auth/me', admin)).status).toBe(200);
  });

  it('deleting a user ends their open terminals on a real agent (SESSION_INVALID)', async () => {
    const agent = await enrolAndRun(backend, admin, 'shell-host');
    dirs.push(agent.stateDir);
    try {
      const sam = await addUser('sam', 'operator');
      const token = await tokenOf('sam');
      const ws = new WebSocket(new URL(`/api/v1/shell?deviceId=${agent.deviceId}&cols=80&rows=24`, backend.url.replace('https:', 'wss:')).href, {
        ca: backend.caCertPem, headers: { authorization: `Bearer ${token}`, origin: backend.url },
      });
      const opened = new Promise<void>((ok) => ws.on('message', (data, binary) => { if (!binary && String(data).includes('"opened"')) ok(); }));
      const closed = new Promise<{ code: number; reason: string }>((done) => ws.once('close', (code, reason) => done({ code, reason: reason.toString() })));
      await opened;
      expect((await call('DELETE', `/api/v1/users/${sam.id}`, admin)).status).toBe(204);
      expect(await closed).toEqual({ code: 4401, reason: 'SESSION_INVALID' });
      const ended = (await call('GET', '/api/v1/audit?actor=user:sam&action=shell.end', admin)).body as AuditPage;
      expect(ended.entries[0]?.details).toMatchObject({ code: 'SESSION_INVALID' });
    } finally {
      await agent.proc.stop();
    }
  });

  it('a scoped user sees only devices in scope; naming another device answers NOT_FOUND everywhere', async () => {
    await addUser('bert', 'operator', { site: 'berlin' });
    const bert = await tokenOf('bert');
    const listed = (await call('GET', '/api/v1/devices', bert)).body as { devices: Device[] };
    expect(listed.devices.map((d) => d.id)).toEqual([devices.berlin]);
    // Pages of the list are narrowed too: following them finds the same device and no other.
    const paged: string[] = [];
    for (let after = ''; ;) {
      const page = (await call('GET', `/api/v1/devices?limit=1${after}`, bert)).body as { devices: Device[]; nextAfter: string | null };
      paged.push(...page.devices.map((d) => d.id));
      if (page.nextAfter === null) break;
      after = `&after=${encodeURIComponent(page.nextAfter)}`;
    }
    expect(paged).toEqual([devices.berlin]);
    expect((await call('GET', `/api/v1/devices/${devices.berlin}`, bert)).status).toBe(200);

    const other = devices.paris;
    const unknown = 'dev_00000000000000000000';
    for (const [method, path, body] of [
      ['GET', `/api/v1/devices/${other}`],
      ['GET', `/api/v1/config/devices/${other}/effective`],
      ['PUT', `/api/v1/config/layers/device:${other}`, { values: {}, expectedVersion: 0 }],
      ['GET', `/api/v1/metrics/devices/${other}/names`],
      ['GET', `/api/v1/logs?deviceId=${other}`],
      ['POST', `/api/v1/devices/${other}/commands`, { command: { shell: 'id' } }],
      ['GET', `/api/v1/devices/${other}/runs`],
      ['GET', `/api/v1/devices/${unknown}`],
    ] as Array<[string, string, unknown?]>) {
      const res = await call(method, path, bert, body);
      expect({ path, status: res.status, body: res.body }).toMatchObject({ path, status: 404, body: { code: 'NOT_FOUND' } });
    }
    // Fleet-wide answers are narrowed to the scope.
    const status = (await call('GET', '/api/v1/config/status', bert)).body as { devices: Array<{ deviceId: string }> };
    expect(status.devices.map((d) => d.deviceId)).toEqual([devices.berlin]);
    const preview = (await call('POST', '/api/v1/jobs/preview', bert, { selection: { query: 'dev_' } })).body as JobPreview;
    expect(preview.deviceIds).toEqual([devices.berlin]);
    expect((await call('POST', '/api/v1/jobs', bert, { command: { shell: 'id' }, selection: { deviceIds: [other] } })).body).toMatchObject({ code: 'SELECTION_EMPTY' });
    expect((await call('PUT', '/api/v1/config/layers/fleet', bert, { values: {}, expectedVersion: 0 })).body).toMatchObject({ code: 'FORBIDDEN' });

    // The console socket relays requests to in-scope devices only, and the shell refuses the upgrade.
    const ws = consoleSocket(bert);
    const answers: Array<{ type: string; id?: number; error?: { code: string } }> = [];
    ws.on('message', (data) => answers.push(JSON.parse(data.toString()) as (typeof answers)[number]));
    await new Promise((ok, fail) => ws.once('open', ok).once('error', fail));
    ws.send(JSON.stringify({ type: 'device.request', id: 1, deviceId: other, method: 'system.info', params: {} }));
    ws.send(JSON.stringify({ type: 'device.request', id: 2, deviceId: devices.berlin, method: 'system.info', params: {} }));
    await waitFor(() => answers.filter((m) => m.type === 'device.response').length === 2, 10_000, 'two answers');
    expect(answers.find((m) => m.id === 1)?.error?.code).toBe('NOT_FOUND');
    expect(answers.find((m) => m.id === 2)?.error?.code).toBe('DEVICE_OFFLINE');
    ws.close();
    expect(await shellUpgradeStatus(bert, other)).toBe(404);
    expect(await shellUpgradeStatus(bert, devices.berlin)).toBe(503);
  });

  it('audit: filters, keyset pages and a JSON-lines export of the same selection', async () => {
    for (let i = 0; i < 7; i++) await call('POST', '/api/v1/tokens', admin, { uses: 1 });
    const first = (await call('GET', '/api/v1/audit?action=token.create&limit=3', admin)).body as AuditPage;
    expect(first.entries).toHaveLength(3);
    expect(first.nextBefore).toBe(first.entries[2]?.id);
    const all: AuditEntry[] = [...first.entries];
    let before = first.nextBefore;
    while (before !== null) {
      const page = (await call('GET', `/api/v1/audit?action=token.create&limit=3&before=${before}`, admin)).body as AuditPage;
      all.push(...page.entries);
      before = page.nextBefore;
    }
    expect(all.length).toBeGreaterThanOrEqual(9); // 2 at enrolment + 7 here
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
    expect(all.every((e) => e.action === 'token.create')).toBe(true);
    expect((await call('GET', '/api/v1/audit?limit=1001', admin)).body).toMatchObject({ code: 'BAD_REQUEST' });
    const since = all.at(-1)?.ts ?? 0;
    expect(((await call('GET', `/api/v1/audit?action=token.create&since=${since}&until=${since + 1}`, admin)).body as AuditPage).entries.every((e) => e.ts === since)).toBe(true);

    const exported = await download('/api/v1/audit/export?action=token.create', admin);
    expect(exported.type).toMatch(/^application\/x-ndjson/);
    const lines = exported.text.trim().split('\n').map((l) => JSON.parse(l) as AuditEntry);
    expect(lines.map((e) => e.id)).toEqual(all.map((e) => e.id));
    // Taking a copy of the log is audited too.
    expect(((await call('GET', '/api/v1/audit?action=audit.export', admin)).body as AuditPage).entries).toHaveLength(1);
  });

  async function shellUpgradeStatus(token: string, deviceId: string): Promise<number> {
    const ws = new WebSocket(new URL(`/api/v1/shell?deviceId=${deviceId}&cols=80&rows=24`, backend.url.replace('https:', 'wss:')).href, {
      ca: backend.caCertPem, headers: { authorization: `Bearer ${token}`, origin: backend.url },
    });
    return new Promise((done) => {
      ws.on('unexpected-response', (_req, res) => done(res.statusCode ?? 0));
      ws.on('open', () => { ws.close(); done(101); });
      ws.on('error', () => undefined);
    });
  }

  function download(path: string, token: string): Promise<{ type: string; text: string }> {
    return new Promise((done, fail) => {
      request(new URL(path, backend.url), { ca: backend.caCertPem, headers: { authorization: `Bearer ${token}` } }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => done({ type: String(res.headers['content-type']), text }));
      }).on('error', fail).end();
    });
  }
});
