import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobDetail, JobPreview } from '../../protocol/index.js';
import { registerDevice } from '../../agent/enrol/register.js';
import { api, cleanup, createToken, deviceOf, login, startAgent, startBackend, tempDir, waitFor, type Backend, type Proc } from '../harness.js';

interface Agent { name: string; proc: Proc; stateDir: string; deviceId: string; env: Record<string, string> }

const FLEET = 20;
/** Devices 05–07 fail the job's command: in batch 2 of 5, which pushes the ratio past 0.2. */
const FAILING = new Set([5, 6, 7]);
const WAVE = 5;

describe('fleet jobs over 20 real agents', () => {
  let backend: Backend;
  let admin: string;
  const agents: Agent[] = [];

  beforeAll(async () => {
    backend = await startBackend();
    admin = await login(backend);
    const token = await createToken(backend, admin, { uses: FLEET, tags: { fleet: 'jobs' } });
    // Enrolment runs in this process (the same code as `tether-agent register`, keys generated off
    // the event loop): 20 extra tsx start-ups would cost more than the whole test on 2 cores.
    const enrolled = await Promise.all(Array.from({ length: FLEET }, async (_, i) => {
      const name = `job-${String(i).padStart(2, '0')}`;
      const stateDir = tempDir('job-agent');
      const { deviceId } = await registerDevice({ backendUrl: backend.url, token, caPin: backend.caPin, stateDir, name });
      const env = { JOB_FAIL: FAILING.has(i) ? '1' : '0', TETHER_TELEMETRY_INTERVAL_MS: '60000' };
      return { name, stateDir, deviceId, env };
    }));
    // Agents start in waves: 20 tsx start-ups and handshakes at once starve a loaded 2-core machine.
    for (let wave = 0; wave < FLEET; wave += WAVE) {
      const started = enrolled.slice(wave, wave + WAVE).map((a) => ({ ...a, proc: startAgent(a.stateDir, a.env, a.name) }));
      agents.push(...started);
      try {
        await waitFor(async () => {
          const res = await api(backend, 'GET', '/api/v1/devices', { token: admin });
          return (res.body as { devices: Array<{ online: boolean }> }).devices.filter((d) => d.online).length === agents.length;
        }, 90_000, `${agents.length} agents online`);
      } catch (err) {
        const res = await api(backend, 'GET', '/api/v1/devices', { token: admin });
        const online = new Set((res.body as { devices: Array<{ id: string; online: boolean }> }).devices.filter((d) => d.online).map((d) => d.id));
        const stuck = agents.find((a) => !online.has(a.deviceId));
        throw new Error(`${String(err)}\n--- ${stuck?.name} ---\n${stuck?.proc.tail(15)}`, { cause: err });
      }
    }
  }, 400_000);

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.proc.stop()));
    await backend.stop();
    cleanup(backend.home, ...agents.map((a) => a.stateDir));
  });

  const job = async (id: string) => (await api(backend, 'GET', `/api/v1/jobs/${id}`, { token: admin })).body as JobDetail;

  it('previews how many devices a selection touches', async () => {
    const res = await api(backend, 'POST', '/api/v1/jobs/preview', { token: admin, body: { selection: { tags: { fleet: 'jobs' } } } });
    expect(res.body).toMatchObject({ count: FLEET, online: FLEET } satisfies Partial<JobPreview>);
    const none = await api(backend, 'POST', '/api/v1/jobs', { token: admin, body: { selection: { query: 'no-such-device' }, command: { shell: 'true' } } });
    expect(none.body).toMatchObject({ code: 'SELECTION_EMPTY' });
  });

  it('runs batches in order and aborts after the batch where the failure ratio is crossed', async () => {
    const res = await api(backend, 'POST', '/api/v1/jobs', {
      token: admin,
      body: { selection: { tags: { fleet: 'jobs' } }, command: { shell: 'sleep 0.3; test "$JOB_FAIL" != 1' }, batchSize: 5, concurrency: 5, maxFailureRatio: 0.2 },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const created = res.body as JobDetail;
    expect(created.total).toBe(FLEET);
    await waitFor(async () => (await job(created.id)).state !== 'running', 60_000, 'the job to end');
    const done = await job(created.id);
    expect(done.state).toBe('aborted');
    expect(done.reason).toMatch(/3\/10/);
    const name = new Map(agents.map((a) => [a.deviceId, a.name]));
    expect(done.runs.map((r) => name.get(r.deviceId))).toEqual(agents.map((a) => a.name));
    const byBatch = (b: number) => done.runs.filter((r) => r.batch === b);
    expect(byBatch(0).map((r) => r.state)).toEqual(Array(5).fill('succeeded'));
    expect(byBatch(1).map((r) => r.state)).toEqual(['failed', 'failed', 'failed', 'succeeded', 'succeeded']);
    for (const b of [2, 3]) {
      for (const r of byBatch(b)) expect(r).toMatchObject({ state: 'cancelled', startedAt: null });
    }
    // Staged: batch 2 started only after every run of batch 1 had ended.
    const lastEnd = Math.max(...byBatch(0).map((r) => r.endedAt ?? Infinity));
    const firstStart = Math.min(...byBatch(1).map((r) => r.startedAt ?? -Infinity));
    expect(firstStart).toBeGreaterThanOrEqual(lastEnd);
    expect(done.counts).toMatchObject({ succeeded: 7, failed: 3, cancelled: 10 });
  });

  it('respects concurrency within a batch', async () => {
    const res = await api(backend, 'POST', '/api/v1/jobs', {
      token: admin,
      body: { selection: { tags: { fleet: 'jobs' } }, command: { shell: 'sleep 0.5' }, concurrency: 4 },
    });
    const id = (res.body as JobDetail).id;
    let maxRunning = 0;
    await waitFor(async () => {
      const j = await job(id);
      maxRunning = Math.max(maxRunning, j.counts.running ?? 0);
      return j.state !== 'running';
    }, 60_000, 'the job to end');
    const done = await job(id);
    expect(done).toMatchObject({ state: 'completed', counts: { succeeded: FLEET } });
    expect(maxRunning).toBeGreaterThan(0);
    expect(maxRunning).toBeLessThanOrEqual(4);
  });

  it('queues a command for an offline device and runs it when the device reconnects', async () => {
    const target = agents[FLEET - 1] as Agent;
    await target.proc.stop();
    await waitFor(async () => (await deviceOf(backend, admin, target.deviceId))?.online === false, 15_000, 'device offline');
    const res = await api(backend, 'POST', '/api/v1/jobs', {
      token: admin,
      body: { selection: { deviceIds: [target.deviceId] }, command: { shell: 'echo back online' }, queueOffline: true, offlineExpiryMs: 60_000 },
    });
    const id = (res.body as JobDetail).id;
    // The scheduler decides before it answers: an offline device's run fails at once unless queued.
    expect((res.body as JobDetail).runs[0]?.state).toBe('queued');
    expect((await job(id)).runs[0]?.state).toBe('queued');
    target.proc = startAgent(target.stateDir, target.env, target.name);
    await waitFor(async () => (await job(id)).state === 'completed', 30_000, 'the queued run');
    expect((await job(id)).runs[0]).toMatchObject({ state: 'succeeded', stdout: 'back online\n' });
  });

  it('expires a queued command when the device stays offline past the expiry', async () => {
    const target = agents[FLEET - 2] as Agent;
    await target.proc.stop();
    await waitFor(async () => (await deviceOf(backend, admin, target.deviceId))?.online === false, 15_000, 'device offline');
    const res = await api(backend, 'POST', '/api/v1/jobs', {
      token: admin,
      body: { selection: { deviceIds: [target.deviceId, (agents[0] as Agent).deviceId] }, command: { shell: 'true' }, queueOffline: true, offlineExpiryMs: 1500 },
    });
    const id = (res.body as JobDetail).id;
    await waitFor(async () => (await job(id)).state !== 'running', 10_000, 'the job to end');
    const done = await job(id);
    expect(done.state).toBe('completed');
    expect(done.runs.find((r) => r.deviceId === target.deviceId)).toMatchObject({ state: 'expired', startedAt: null });
    expect(done.runs.find((r) => r.deviceId !== target.deviceId)?.state).toBe('succeeded');
    // Without queueing, an offline device fails at once.
    const now = await api(backend, 'POST', '/api/v1/jobs', { token: admin, body: { selection: { deviceIds: [target.deviceId] }, command: { shell: 'true' } } });
    await waitFor(async () => (await job((now.body as JobDetail).id)).state !== 'running', 5000, 'the job to end');
    expect((await job((now.body as JobDetail).id)).runs[0]).toMatchObject({ state: 'failed', error: expect.stringMatching(/^DEVICE_OFFLINE/) });
  });

  it('cancels a running job: running runs are killed, queued ones cancelled', async () => {
    const res = await api(backend, 'POST', '/api/v1/jobs', {
      token: admin,
      body: { selection: { tags: { fleet: 'jobs' } }, command: { shell: 'sleep 30' }, batchSize: 10, concurrency: 3 },
    });
    const id = (res.body as JobDetail).id;
    await waitFor(async () => ((await job(id)).counts.running ?? 0) > 0, 10_000, 'runs started');
    const cancel = await api(backend, 'POST', `/api/v1/jobs/${id}/cancel`, { token: admin });
    expect(cancel.status).toBe(200);
    await waitFor(async () => (await job(id)).state === 'cancelled', 10_000, 'cancelled');
    const done = await job(id);
    expect(done.runs.every((r) => ['cancelled', 'failed'].includes(r.state))).toBe(true);
    expect(done.counts.cancelled).toBeGreaterThanOrEqual(FLEET - 2);
  });
});
