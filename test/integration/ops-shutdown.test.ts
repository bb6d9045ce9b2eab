import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { api, backendDb, cleanup, createToken, enrolAndRun, login, registerAgent, startBackend, tempDir, waitFor, type Backend, type Proc } from '../harness.js';
import { startTelemetryWriter } from '../telemetry-writer.js';

/** The production backoff base (ARCHITECTURE §3: 1 s → 60 s, full jitter). */
const BACKOFF_BASE_MS = 1_000;

describe('graceful shutdown', () => {
  let backend: Backend | undefined;
  const agents: Array<{ proc: Proc; stateDir: string; deviceId: string }> = [];
  const dirs: string[] = [];

  afterAll(async () => {
    for (const a of agents) await a.proc.stop();
    await backend?.stop();
    cleanup(...dirs, ...agents.map((a) => a.stateDir), backend?.home ?? '');
  });

  it('SIGTERM loses no acknowledged telemetry, closes agents with GOING_AWAY, and they are back within the backoff window', { timeout: 120_000 }, async () => {
    backend = await startBackend();
    const admin = await login(backend);
    for (const label of ['gs-a', 'gs-b']) agents.push(await enrolAndRun(backend, admin, label, { TETHER_BACKOFF_BASE_MS: String(BACKOFF_BASE_MS), TETHER_JOURNAL: '0' }));
    const writerState = tempDir('writer');
    dirs.push(writerState);
    expect((await registerAgent(backend, await createToken(backend, admin), writerState)).code).toBe(0);
    const writerId = (JSON.parse(readFileSync(join(writerState, 'state.json'), 'utf8')) as { deviceId: string }).deviceId;

    const writer = startTelemetryWriter(backend, writerState, { window: 16 });
    await waitFor(() => writer.acked.size > 50, 20_000, 'telemetry load');
    const { home, port } = backend;
    const marks = agents.map((a) => a.proc.lines.length);
    // SIGTERM in the middle of the load: batches are in flight and in the ingest queue.
    const exitCode = await backend.proc.stop('SIGTERM');
    expect(exitCode).toBe(0);
    expect(backend.proc.json().some((e) => e.msg === 'shutting down')).toBe(true);
    const ackedBeforeStop = new Map(writer.acked);
    await writer.stop();

    // Every acked batch is on disk, read from the file the stopped backend left.
    const db = await backendDb({ home }, 'metrics');
    const stored = new Set((await db.selectFrom('telemetry_batches').select('seq').where('device_id', '=', writerId).execute()).map((r) => r.seq));
    await db.destroy();
    expect([...ackedBeforeStop.keys()].filter((seq) => !stored.has(seq))).toEqual([]);

    // Agents were told the server is going away (1001), not dropped, and retry with jittered delays.
    const closes = await Promise.all(agents.map((a, i) => a.proc.waitForLog((e) => e.msg === 'control channel closed; reconnecting', 10_000, marks[i])));
    for (const close of closes) {
      expect(close.code).toBe('GOING_AWAY');
      expect(close.closeCode).toBe(1001);
      expect(Number(close.retryInMs)).toBeLessThan(BACKOFF_BASE_MS);
    }

    backend = await startBackend({ home, port });
    const upAt = Number(backend.proc.json().find((e) => e.msg === 'listening')?.time);
    for (const [i, a] of agents.entries()) {
      const back = await a.proc.waitForLog((e) => e.msg === 'connected', 60_000, marks[i]);
      // The window: the delay ceiling of the last attempt before the backend was up, plus the handshake.
      const retries = a.proc.json().slice(marks[i]).filter((e) => e.msg === 'control channel closed; reconnecting' || e.msg === 'handshake with the backend failed');
      const attempts = retries.length;
      const window = Math.min(60_000, BACKOFF_BASE_MS * 2 ** attempts) + 3_000;
      expect(Number(back.time) - upAt, `${a.deviceId} after ${attempts} attempts`).toBeLessThan(window);
    }
    const admin2 = await login(backend);
    const res = await api(backend, 'GET', '/api/v1/devices', { token: admin2 });
    const online = (res.body as { devices: Array<{ id: string; online: boolean }> }).devices.filter((d) => d.online).map((d) => d.id);
    expect(online).toEqual(expect.arrayContaining(agents.map((a) => a.deviceId)));
  });
});
