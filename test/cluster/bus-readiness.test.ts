import { spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, cleanup, ROOT, startBackend, tempDir, waitFor, type Backend } from '../harness.js';
import { freePort, startNats, stopNats } from '../bus/private-nats.js';
import { createTestDatabase } from '../store/test-database.js';

function serve(args: string[], env: Record<string, string>): { status: number | null; output: string } {
  const home = tempDir('backend');
  try {
    const result = spawnSync(process.execPath, [join(ROOT, 'bin', 'tether-backend.js'), 'serve', '--home', home, '--listen', '127.0.0.1:0', ...args], {
      cwd: ROOT, env: { ...process.env, TETHER_DATABASE_URL: '', TETHER_NATS_URL: '', ...env }, encoding: 'utf8', timeout: 60_000,
    });
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  } finally {
    cleanup(home);
  }
}

describe('a cluster node and its bus', () => {
  let database: { url: string; drop(): Promise<void> };
  let nats: ChildProcess | null = null;
  let backend: Backend | undefined;
  const storeDir = tempDir('nats');

  beforeAll(async () => {
    database = await createTestDatabase();
  });

  afterAll(async () => {
    await backend?.stop();
    if (nats) await stopNats(nats);
    await database.drop();
    cleanup(storeDir, ...(backend ? [backend.home] : []));
  });

  it('refuses --nats without a PostgreSQL database, and an unreachable NATS, with coded errors', async () => {
    const alone = serve(['--nats', 'nats://127.0.0.1:4222'], {});
    expect(alone.status).toBe(1);
    expect(alone.output).toContain('error CLUSTER_NEEDS_POSTGRES');
    const port = await freePort();
    const unreachable = serve(['--nats', `nats://127.0.0.1:${port}`, '--database-url', database.url], {});
    expect(unreachable.status).toBe(1);
    expect(unreachable.output).toContain('error BUS_UNAVAILABLE');
    expect(unreachable.output).toContain(`127.0.0.1:${port}`);
  });

  it('is not ready while NATS is down, and ready again once it is back, without a restart', async () => {
    const port = await freePort();
    nats = await startNats(port, storeDir);
    backend = await startBackend({ env: { TETHER_DATABASE_URL: database.url, TETHER_NATS_URL: `nats://127.0.0.1:${port}`, TETHER_NATS_PREFIX: 'readiness', TETHER_NODE_ID: 'node-r' } });
    expect((await api(backend, 'GET', '/readyz')).status).toBe(200);
    await stopNats(nats);
    const node = backend;
    await waitFor(async () => (await api(node, 'GET', '/readyz')).status === 503, 10_000, '/readyz red');
    expect((await api(backend, 'GET', '/readyz')).body).toMatchObject({ ok: false, code: 'BUS_UNAVAILABLE' });
    nats = await startNats(port, storeDir);
    await waitFor(async () => (await api(node, 'GET', '/readyz')).status === 200, 15_000, '/readyz green again');
  });
});
