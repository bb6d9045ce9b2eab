import { spawnSync } from 'node:child_process';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { hasControlCharacters, type AuditPage } from '../../protocol/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, api, cleanup, login, registerAgent, startBackend, storeEnv, tempDir, type Backend } from '../harness.js';

/** The test backend's store (TETHER_TEST_STORE=postgres: its database), for the one-off commands on its home. */
let storeVars: Record<string, string> = {};

function run(bin: string, args: string[], input?: string) {
  const result = spawnSync(process.execPath, [join(ROOT, 'bin', `${bin}.js`), ...args], { cwd: ROOT, encoding: 'utf8', input, env: { ...process.env, ...storeVars } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('the commands of ARCHITECTURE §9', () => {
  let backend: Backend;
  const dirs: string[] = [];

  beforeAll(async () => {
    backend = await startBackend();
    storeVars = await storeEnv(backend.home);
  });

  afterAll(async () => {
    await backend.stop();
    cleanup(backend.home, ...dirs);
  });

  it.each([
    ['tether-backend', ['serve', '--help'], '--listen'],
    ['tether-backend', ['token', 'create', '--help'], '--uses'],
    ['tether-backend', ['ca', 'pin', '--help'], '--home'],
    ['tether-backend', ['user', 'add', '--help'], '--role'],
    ['tether-agent', ['register', '--help'], '--ca-pin'],
    ['tether-agent', ['run', '--help'], '--state'],
    ['tether-agent', ['status', '--help'], '--json'],
  ])('%s %s documents itself', (bin, args, option) => {
    const res = run(bin, args);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(option);
  });

  it('ca pin prints the pin the backend logged', () => {
    expect(run('tether-backend', ['ca', 'pin', '--home', backend.home]).stdout.trim()).toBe(backend.caPin);
  });

  it('token create --json gives a token, the pin and an install command that enrols a device', async () => {
    const res = run('tether-backend', ['token', 'create', '--home', backend.home, '--ttl', '1h', '--uses', '2', '--tag', 'site=lab', '--json']);
    expect(res.code).toBe(0);
    const created = JSON.parse(res.stdout) as { token: string; caPin: string; installCommand: string; maxUses: number; tags: Record<string, string> };
    expect(created).toMatchObject({ caPin: backend.caPin, maxUses: 2, tags: { site: 'lab' } });
    expect(created.installCommand).toContain(`--token ${created.token}`);
    expect(created.installCommand).toContain(backend.url);
    const state = tempDir('agent');
    dirs.push(state);
    expect((await registerAgent(backend, created.token, state)).code).toBe(0);
    const status = run('tether-agent', ['status', '--state', state, '--json']);
    expect(JSON.parse(status.stdout)).toMatchObject({ backend: backend.url, caPin: backend.caPin, deviceId: expect.stringMatching(/^dev_/) });
  });

  it('token create refuses a malformed option with a clear message', () => {
    const res = run('tether-backend', ['token', 'create', '--home', backend.home, '--ttl', 'soon']);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('30m, 1h, 7d');
  });

  it('user add reads the password from stdin; the user can log in with it', async () => {
    const res = run('tether-backend', ['user', 'add', '--home', backend.home, '--username', 'tech1', '--role', 'operator'], 'a long enough secret\n');
    expect(res.code).toBe(0);
    const login = await api(backend, 'POST', '/api/v1/auth/login', { body: { username: 'tech1', password: 'a long enough secret' } });
    expect(login.status).toBe(200);
    expect(login.body).toMatchObject({ user: { username: 'tech1', role: 'operator' } });
    const again = run('tether-backend', ['user', 'add', '--home', backend.home, '--username', 'tech1', '--role', 'viewer'], 'another secret!\n');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('error CONFLICT');
  });

  it('token create and user add leave the same audit entries as the API, naming the OS user', async () => {
    const admin = await login(backend);
    const actor = `cli:${userInfo().username}`;
    const created = JSON.parse(run('tether-backend', ['token', 'create', '--home', backend.home, '--uses', '3', '--json']).stdout) as { id: string; expiresAt: number };
    expect(run('tether-backend', ['user', 'add', '--home', backend.home, '--username', 'audited', '--role', 'viewer'], 'a long enough secret\n').code).toBe(0);
    const viaApi = (await api(backend, 'POST', '/api/v1/tokens', { token: admin, body: { uses: 3 } })).body as { id: string };
    const entry = async (target: string) => {
      const page = (await api(backend, 'GET', `/api/v1/audit?target=${encodeURIComponent(target)}`, { token: admin })).body as AuditPage;
      expect(page.entries).toHaveLength(1);
      const [{ actor: who, action, details }] = page.entries as [AuditPage['entries'][number]];
      return { actor: who, action, details };
    };
    expect(await entry(created.id)).toEqual({ actor, action: 'token.create', details: { uses: 3, expiresAt: created.expiresAt } });
    expect(await entry('user:audited')).toEqual({ actor, action: 'user.create', details: { role: 'viewer', scope: null } });
    // The API's entry has the same shape, with the user as actor.
    expect(await entry(viaApi.id)).toMatchObject({ actor: 'user:admin', action: 'token.create', details: { uses: 3 } });
  });

  it('refuses control characters in names and tags with CONTROL_CHARACTERS, and never prints one raw', () => {
    const ESC = '\u001b';
    const noRaw = (text: string) => expect(hasControlCharacters(text.replace(/[\n\t]/g, '')), JSON.stringify(text)).toBe(false);
    const user = run('tether-backend', ['user', 'add', '--home', backend.home, '--username', `eve${ESC}[2J`, '--role', 'viewer'], 'a long enough secret\n');
    expect(user.code).toBe(1);
    expect(user.stderr).toContain('error CONTROL_CHARACTERS');
    const tag = run('tether-backend', ['token', 'create', '--home', backend.home, '--tag', `site${ESC}]0;owned${ESC}\\=lab`]);
    expect(tag.code).toBe(1);
    expect(tag.stderr).toContain('error CONTROL_CHARACTERS');
    expect(tag.stderr).toContain('\\u001b]0;owned');
    const value = run('tether-backend', ['token', 'create', '--home', backend.home, '--tag', `site=lab\u009b31m`]);
    expect(value.stderr).toContain('error CONTROL_CHARACTERS');
    // Commander quotes a refused argument back; that goes through the same filter.
    const role = run('tether-backend', ['user', 'add', '--home', backend.home, '--username', 'x', '--role', `${ESC}[31madmin`]);
    expect(role.code).not.toBe(0);
    expect(role.stderr).toContain('\\u001b[31madmin');
    // A path from the command line, printed back in the summary.
    const out = join(tempDir('backup'), `b${ESC}[31mred`);
    dirs.push(join(out, '..'));
    const backup = run('tether-backend', ['backup', '--home', backend.home, '--out', out]);
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.stdout).toContain('b\\u001b[31mred');
    for (const res of [user, tag, value, role, backup]) {
      noRaw(res.stdout);
      noRaw(res.stderr);
    }
  });

  it('agent status without state says what to do', () => {
    const res = run('tether-agent', ['status', '--state', join(tempDir('empty'), 'nothing')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('run `tether-agent register` first');
  });
});
