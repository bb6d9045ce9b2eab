import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Run } from '../../protocol/index.js';
import { api, backendDb, cleanup, enrolAndRun, login, startBackend, waitFor, type Backend, type Proc } from '../harness.js';

/** Running, not a zombie left for a slow reaper. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('commands on a real agent', () => {
  let backend: Backend;
  let admin: string;
  let agent: { proc: Proc; stateDir: string; deviceId: string };

  beforeAll(async () => {
    backend = await startBackend();
    admin = await login(backend);
    agent = await enrolAndRun(backend, admin, 'runner');
  });

  afterAll(async () => {
    await agent.proc.stop();
    await backend.stop();
    cleanup(backend.home, agent.stateDir);
  });

  const run = async (body: Record<string, unknown>): Promise<Run> => {
    const res = await api(backend, 'POST', `/api/v1/devices/${agent.deviceId}/commands`, { token: admin, body });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body as Run;
  };
  const get = async (id: string): Promise<Run> => (await api(backend, 'GET', `/api/v1/runs/${id}`, { token: admin })).body as Run;

  it('streams stdout and stderr apart and reports the exit code', async () => {
    const r = await run({ command: { shell: 'echo out; echo err >&2; exit 3' }, wait: true });
    expect(r).toMatchObject({ state: 'failed', exitCode: 3, stdout: 'out\n', stderr: 'err\n', truncated: false });
    const ok = await run({ command: { argv: ['/bin/sh', '-c', 'pwd; printf %s "$X"'] }, cwd: '/tmp', env: { X: 'a b;c' }, wait: true });
    expect(ok).toMatchObject({ state: 'succeeded', exitCode: 0, stdout: '/tmp\na b;c' });
  });

  it('answers a command that cannot start with a failed run naming SPAWN_FAILED, and bad input with BAD_REQUEST', async () => {
    const r = await run({ command: { argv: ['/no/such/binary'] }, wait: true });
    expect(r.state).toBe('failed');
    expect(r.error).toMatch(/^SPAWN_FAILED/);
    const bad = await api(backend, 'POST', `/api/v1/devices/${agent.deviceId}/commands`, { token: admin, body: { command: { shell: '' } } });
    expect(bad.status).toBe(400);
    const unknown = await api(backend, 'POST', '/api/v1/devices/dev_00000000000000000000/commands', { token: admin, body: { command: { shell: 'id' } } });
    expect(unknown.body).toMatchObject({ code: 'DEVICE_UNKNOWN' });
  });

  it('a timeout kills the command\'s children too', async () => {
    const started = Date.now();
    const r = await run({ command: { shell: 'sleep 300 & echo $!; sleep 300' }, timeoutMs: 1000, wait: true });
    expect(r.state).toBe('timed_out');
    expect(Date.now() - started).toBeLessThan(5000);
    const childPid = Number(r.stdout.trim());
    expect(childPid).toBeGreaterThan(0);
    await waitFor(() => !alive(childPid), 3000, 'the background child to die');
  });

  it('cancels a command mid-output, live output visible before', async () => {
    const r = await run({ command: { shell: 'i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.05; done' }, timeoutMs: 60_000 });
    expect(r.state).toBe('running');
    await waitFor(async () => (await get(r.id)).stdout.includes('tick 3'), 10_000, 'live output');
    const cancel = await api(backend, 'POST', `/api/v1/runs/${r.id}/cancel`, { token: admin });
    expect(cancel.status).toBe(200);
    await waitFor(async () => (await get(r.id)).state === 'cancelled', 5000, 'cancelled');
    const final = await get(r.id);
    expect(final.stdout).toMatch(/^tick 1\ntick 2\ntick 3\n/);
    const again = await api(backend, 'POST', `/api/v1/runs/${r.id}/cancel`, { token: admin });
    expect(again.body).toMatchObject({ code: 'CONFLICT' });
  });

  it('puts every command and cancel in the audit log', async () => {
    const db = await backendDb(backend, 'main');
    const actions = (await db.selectFrom('audit_log').select('action').where('action', 'like', 'command.%').execute()).map((r) => r.action);
    await db.destroy();
    expect(actions.filter((a) => a === 'command.run').length).toBeGreaterThanOrEqual(5);
    expect(actions).toContain('command.cancel');
  });
});
