import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { api, cleanup, createToken, login, registerAgent, ROOT, startBackend, tempDir, Proc, TEST_STORE, type Backend } from '../harness.js';
import { startTelemetryWriter } from '../telemetry-writer.js';

async function backendCli(args: string[]): Promise<{ code: number | null; output: string }> {
  const proc = new Proc(spawn(process.execPath, [join(ROOT, 'bin', 'tether-backend.js'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }), 'cli');
  const code = await proc.exited;
  return { code, output: proc.lines.join('\n') };
}

// SQLite's online backup of the home's database files. PostgreSQL's backup (pg_dump into the same
// layout) and restore are tested in migrate-store.test.ts, against a real server, on every run.
const onPostgres = TEST_STORE === 'postgres';
if (onPostgres) console.log('ops-backup: skipped with TETHER_TEST_STORE=postgres: it tests the SQLite online backup of a home (PostgreSQL backup is in migrate-store.test.ts)');

describe.skipIf(onPostgres)('online backup and restore (SQLite)', () => {
  const dirs: string[] = [];
  let backend: Backend | undefined;
  let restoredBackend: Backend | undefined;

  afterAll(async () => {
    await restoredBackend?.stop();
    await backend?.stop();
    cleanup(...dirs, backend?.home ?? '');
  });

  it('a backup taken under write load restores intact, holding every write acknowledged before it', { timeout: 120_000 }, async () => {
    backend = await startBackend();
    const admin = await login(backend);
    const device = tempDir('writer');
    dirs.push(device);
    const reg = await registerAgent(backend, await createToken(backend, admin), device, ['--name', 'writer']);
    expect(reg.code, reg.output).toBe(0);

    // Two kinds of load at once: telemetry into metrics.db, token creation into tether.db.
    const telemetry = startTelemetryWriter(backend, device);
    const tokenIds = new Map<string, number>();
    let loading = true;
    const tokenLoad = (async () => {
      while (loading) {
        const res = await api(backend!, 'POST', '/api/v1/tokens', { token: admin, body: {} });
        if (res.status === 200) tokenIds.set((res.body as { id: string }).id, Date.now());
      }
    })();
    await new Promise((r) => setTimeout(r, 2_000));

    const out = join(tempDir('backup'), 'b.tar.gz');
    dirs.push(join(out, '..'));
    const startedAt = Date.now();
    const backup = await backendCli(['backup', '--home', backend.home, '--out', out]);
    expect(backup.code, backup.output).toBe(0);
    expect(backup.output).toMatch(/integrity ok/);
    await new Promise((r) => setTimeout(r, 1_000));
    loading = false;
    await tokenLoad;
    await telemetry.stop();

    const ackedBefore = [...telemetry.acked].filter(([, at]) => at < startedAt).map(([seq]) => seq);
    const tokensBefore = [...tokenIds].filter(([, at]) => at < startedAt).map(([id]) => id);
    expect(ackedBefore.length).toBeGreaterThan(20);
    expect(tokensBefore.length).toBeGreaterThan(5);
    // The load went on during and after the backup.
    expect([...telemetry.acked.values()].some((at) => at > startedAt)).toBe(true);

    // Restoring over the running backend's home is refused.
    const refused = await backendCli(['restore', '--home', backend.home, '--from', out]);
    expect(refused.code).toBe(1);
    expect(refused.output).toMatch(/error BACKEND_RUNNING/);

    const home = join(tempDir('restored'), 'home');
    dirs.push(join(home, '..'));
    const restored = await backendCli(['restore', '--home', home, '--from', out]);
    expect(restored.code, restored.output).toBe(0);

    const deviceId = (JSON.parse(readFileSync(join(device, 'state.json'), 'utf8')) as { deviceId: string }).deviceId;
    const metrics = new Database(join(home, 'metrics.db'), { readonly: true });
    const main = new Database(join(home, 'tether.db'), { readonly: true });
    try {
      expect(metrics.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(main.pragma('integrity_check', { simple: true })).toBe('ok');
      const seqs = new Set(metrics.prepare('SELECT seq FROM telemetry_batches WHERE device_id = ?').pluck().all(deviceId) as number[]);
      expect(ackedBefore.filter((seq) => !seqs.has(seq))).toEqual([]);
      const ids = new Set(main.prepare('SELECT id FROM registration_tokens').pluck().all() as string[]);
      expect(tokensBefore.filter((id) => !ids.has(id))).toEqual([]);
    } finally {
      metrics.close();
      main.close();
    }

    // The restored home runs: same CA, same users, same devices.
    restoredBackend = await startBackend({ home });
    expect(restoredBackend.caPin).toBe(backend.caPin);
    // Login sessions are not part of a backup: the admin's token from before it is refused.
    const stale = await api(restoredBackend, 'GET', '/api/v1/auth/me', { token: admin });
    expect([stale.status, (stale.body as { code?: string }).code]).toEqual([401, 'SESSION_INVALID']);
    const res = await api(restoredBackend, 'GET', '/api/v1/devices', { token: await login(restoredBackend) });
    expect((res.body as { devices: Array<{ id: string }> }).devices.map((d) => d.id)).toContain(deviceId);
  });
});
