import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { backendDb, cleanup, enrolAndRun, login, startBackend, waitFor, type Backend, type Proc } from '../harness.js';
import { backendSamples, duplicateSamples } from '../stored-samples.js';

/** The issue asks for a 2-minute outage; TETHER_OUTAGE_MS shortens it for local runs. */
const OUTAGE_MS = Number(process.env.TETHER_OUTAGE_MS ?? 120_000);
const SAMPLE_MS = 1_000;

describe('a backend outage while the agent samples every second', () => {
  let backend: Backend | undefined;
  let agent: { proc: Proc; stateDir: string; deviceId: string } | undefined;

  afterAll(async () => {
    await agent?.proc.stop();
    await backend?.stop();
    cleanup(agent?.stateDir ?? '', backend?.home ?? '');
  });

  it('stores every sample exactly once after the restart: no gap, no duplicate', { timeout: OUTAGE_MS + 120_000 }, async () => {
    backend = await startBackend();
    const admin = await login(backend);
    agent = await enrolAndRun(backend, admin, 'outage', { TETHER_TELEMETRY_INTERVAL_MS: String(SAMPLE_MS), TETHER_JOURNAL: '0', TETHER_BACKOFF_BASE_MS: '200' });
    const spoolFiles = () => readdirSync(join(agent?.stateDir ?? '', 'spool')).filter((f) => f.endsWith('.json')).length;
    await new Promise((r) => setTimeout(r, 3_000));

    const { home, port } = backend;
    await backend.stop();
    const down = Date.now();
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    // While the backend was away the batches waited on disk.
    // (80 %: on a starved CI machine a 1 s timer can slip; the exact-once checks below are strict.)
    expect(spoolFiles()).toBeGreaterThanOrEqual(Math.floor((OUTAGE_MS / SAMPLE_MS) * 0.8));
    backend = await startBackend({ home, port });
    const up = Date.now();
    await waitFor(() => spoolFiles() === 0, 60_000, 'the spool to drain');
    await new Promise((r) => setTimeout(r, 2_000));
    await agent.proc.stop();
    await backend.stop();

    const db = await backendDb({ home }, 'metrics');
    try {
      const stored = await sql<{ seq: number }>`SELECT seq FROM telemetry_batches WHERE device_id = ${agent.deviceId} ORDER BY seq`.execute(db);
      const seqs = stored.rows.map((r) => Number(r.seq));
      const samples = await backendSamples({ home }, agent.deviceId);
      const uptime = samples.filter((s) => s.name === 'uptime').map((s) => s.ts);
      // Every batch from the first to the last arrived (no seq missing) and each carried one uptime sample, stored once.
      expect(seqs.length).toBeGreaterThan(OUTAGE_MS / SAMPLE_MS);
      expect(seqs.at(-1)! - seqs[0]!).toBe(seqs.length - 1);
      expect(uptime).toHaveLength(seqs.length);
      expect(new Set(uptime).size).toBe(uptime.length);
      const duplicates = duplicateSamples(samples);
      expect(duplicates).toBe(0);
      // No gap in time: the sampler kept its period through the outage and the catch-up after it.
      // (The agent's first seconds are left out: systeminformation's first calls are slow on a busy machine.)
      const window = uptime.filter((ts) => ts >= down - 2_000);
      const gaps = window.slice(1).map((ts, i) => ts - (window[i] ?? ts));
      const worst = gaps.indexOf(Math.max(...gaps));
      expect(Math.max(...gaps), `gap after ${(window[worst] ?? 0) - down} ms from the outage start (outage ${up - down} ms)`).toBeLessThan(SAMPLE_MS * 3);
      const during = uptime.filter((ts) => ts > down && ts < up).length;
      expect(during).toBeGreaterThanOrEqual(Math.floor(((up - down) / SAMPLE_MS) * 0.8));
      expect(Math.max(...samples.filter((s) => s.name === 'agent.spool.dropped').map((s) => s.value))).toBe(0);
    } finally {
      await db.destroy();
    }
  });
});
