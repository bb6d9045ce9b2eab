import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, api, cleanup, registerAgent, startBackend, tempDir, type Backend } from '../harness.js';

function run(bin: string, args: string[], input?: string) {
  const result = spawnSync(process.execPath, [join(ROOT, 'bin', `${bin}.js`), ...args], { cwd: ROOT, encoding: 'utf8', input });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('the commands of ARCHITECTURE §9', () => {
  let backend: Backend;
  const dirs: string[] = [];

  beforeAll(async () => {
    backend = await startBackend();
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

  it('agent status without state says what to do', () => {
    const res = run('tether-agent', ['status', '--state', join(tempDir('empty'), 'nothing')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('run `tether-agent register` first');
  });
});
