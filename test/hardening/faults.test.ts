/**
 * Faults with real processes: the backend SIGKILLed during telemetry ingest, a job and a config
 * push; an agent SIGKILLed mid-command; the network between agent and backend cut, paused and
 * slowed through a TCP proxy. After each, nothing acknowledged is lost or duplicated and every
 * run, job and config delivery ends in a clear state.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigFleetStatus, type JobDetail, type Run } from '../../protocol/index.js';
import { api, backendDb, cleanup, enrolAndRun, login, openConsole, startAgent, startBackend, waitFor, type Backend, type Proc } from '../harness.js';
import { LONG } from './fuzz-input.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';
import { backendSamples, duplicateSamples } from '../stored-samples.js';

interface Agent { proc: Proc; stateDir: string; deviceId: string }

const FAST = { TETHER_TELEMETRY_INTERVAL_MS: '300', TETHER_JOURNAL: '0', TETHER_BACKOFF_BASE_MS: '200', TETHER_BACKOFF_MAX_MS: '3000' };

describe('faults with real processes', () => {
  let backend: Backend;
  let admin: string;
  let agent: Agent;
  const dirs: string[] = [];

  const spooled = (a: Agent) => readdirSync(join(a.stateDir, 'spool')).filter((f) => f.endsWith('.json')).length;
  const online = async (deviceId: string) => ((await api(backend, 'GET', `/api/v1/devices/${deviceId}`, { token: admin })).body as { online?: boolean }).online === true;

  /** SIGKILL, then the same home and port again; returns how long the backend was gone. */
  const killAndRestart = async (downMs = 1_000): Promise<void> => {
    const { home, port } = backend;
    await backend.proc.stop('SIGKILL');
    await sleep(downMs);
    backend = await startBackend({ home, port });
    admin = await login(backend);
  };

  beforeAll(async () => {
    backend = await startBackend();
    admin = await login(backend);
    agent = await enrolAndRun(backend, admin, 'faulty', FAST);
    dirs.push(agent.stateDir);
  });

  afterAll(async () => {
    await agent.proc.stop();
    await backend.stop();
    cleanup(backend.home, ...dirs);
  });

  it('backend SIGKILL during telemetry ingest: every batch stored exactly once after the restart', async ({ annotate }) => {
    await sleep(3_000);
    await killAndRestart(2_000);
    await waitFor(() => spooled(agent) === 0, 60_000, 'the spool to drain');
    // The agent keeps sending: paused, so that the batches and the samples are counted at one moment
    // (a batch landing between the two reads would count its sample but not its seq).
    const agentPid = agent.proc.child.pid ?? 0;
    process.kill(agentPid, 'SIGSTOP');
    await sleep(1_000);
    const db = await backendDb(backend, 'metrics');
    try {
      const seqs = (await db.selectFrom('telemetry_batches').select('seq').where('device_id', '=', agent.deviceId).orderBy('seq').execute()).map((r) => r.seq);
      const samples = await backendSamples(backend, agent.deviceId);
      const uptime = samples.filter((s) => s.name === 'uptime').length;
      const duplicates = duplicateSamples(samples);
      expect(seqs.length).toBeGreaterThan(10);
      expect(new Set(seqs).size).toBe(seqs.length);
      expect((seqs.at(-1) ?? 0) - (seqs[0] ?? 0)).toBe(seqs.length - 1);
      // Each batch carries one uptime sample: stored once per batch, none lost, none twice.
      expect(uptime).toBe(seqs.length);
      expect(duplicates).toBe(0);
      void annotate(`${seqs.length} batches, seq ${seqs[0]}..${seqs.at(-1)} contiguous, 0 duplicate samples`);
    } finally {
      process.kill(agentPid, 'SIGCONT');
      await db.destroy();
    }
  });

  it('backend SIGKILL during a job: after the restart the job and its runs end "cancelled: The backend restarted"', async ({ annotate }) => {
    // The previous scenario restarted the backend: the job must find the device connected, not queue it.
    await waitFor(() => online(agent.deviceId), 30_000, 'the agent back from the previous restart');
    const created = await api(backend, 'POST', '/api/v1/jobs', { token: admin, body: { selection: { deviceIds: [agent.deviceId] }, command: { shell: 'sleep 6' } } });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const id = (created.body as JobDetail).id;
    const job = async () => (await api(backend, 'GET', `/api/v1/jobs/${id}`, { token: admin })).body as JobDetail;
    await waitFor(async () => (await job()).runs.some((r) => r.state === 'running'), 10_000, 'the run to start');
    await killAndRestart();
    const after = await job();
    expect(after).toMatchObject({ state: 'cancelled', reason: 'The backend restarted' });
    expect(after.runs.map((r) => [r.state, r.error])).toEqual([['cancelled', 'The backend restarted']]);
    await waitFor(() => online(agent.deviceId), 20_000, 'the agent back');
    // The command's late exit does not resurrect anything.
    await sleep(6_000);
    expect((await job()).runs[0]?.state).toBe('cancelled');
    void annotate('job + run → cancelled "The backend restarted"; stays so after the late exit');
  });

  it('backend SIGKILL right after a config change: the device converges to the desired version', async ({ annotate }) => {
    const fleet = (await api(backend, 'GET', '/api/v1/config/layers/fleet', { token: admin })).body as { version: number };
    const put = await api(backend, 'PUT', '/api/v1/config/layers/fleet', { token: admin, body: { values: { app: { marker: 'after-crash' } }, expectedVersion: fleet.version } });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    await killAndRestart(500);
    let desired = -1;
    await waitFor(async () => {
      const devices = ConfigFleetStatus.parse((await api(backend, 'GET', '/api/v1/config/status', { token: admin })).body).devices;
      const mine = devices.find((d) => d.deviceId === agent.deviceId);
      desired = mine?.desiredVersion ?? -1;
      return mine?.state === 'applied' && mine.reported?.version === mine.desiredVersion && !mine.drift;
    }, 30_000, 'the device to apply the desired config');
    const written = JSON.parse(readFileSync(join(agent.stateDir, 'config', 'config.json'), 'utf8')) as { version: number; config: { app?: { marker?: string } } };
    expect(written.config.app?.marker).toBe('after-crash');
    expect(written.version).toBe(desired);
    void annotate(`applied desired version ${desired} after the restart`);
  });

  it('agent SIGKILL mid-command: the run waits for the device, and ends failed (DEVICE_OFFLINE) when it comes back without the command', async ({ annotate }) => {
    const res = await api(backend, 'POST', `/api/v1/devices/${agent.deviceId}/commands`, { token: admin, body: { command: { shell: 'sleep 5; echo never' } } });
    const runId = (res.body as Run).id;
    const run = async () => (await api(backend, 'GET', `/api/v1/runs/${runId}`, { token: admin })).body as Run;
    await waitFor(async () => (await run()).state === 'running', 10_000, 'running');
    await agent.proc.stop('SIGKILL');
    // The run waits to reattach: a dropped link alone does not end a command the agent keeps.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await run()).state).toBe('running');
    const restartedAt = Date.now();
    agent = { ...agent, proc: startAgent(agent.stateDir, FAST, 'faulty-again') };
    await waitFor(() => online(agent.deviceId), 30_000, 'the agent back');
    await waitFor(async () => (await run()).state !== 'running', 15_000, 'the run to end');
    expect(await run()).toMatchObject({ state: 'failed', error: expect.stringMatching(/^DEVICE_OFFLINE: the device came back without the command/) });
    void annotate(`run failed DEVICE_OFFLINE ${Date.now() - restartedAt} ms after the restarted agent came back`);
  });

  describe('network faults through a TCP proxy', () => {
    let proxy: TcpProxy;
    let proxied: Agent;

    beforeAll(async () => {
      proxy = await startTcpProxy({ host: '127.0.0.1', port: backend.port });
      // The same agent, now reaching the backend through the proxy.
      await agent.proc.stop();
      const statePath = join(agent.stateDir, 'state.json');
      const state = JSON.parse(readFileSync(statePath, 'utf8')) as { backendUrl: string };
      writeFileSync(statePath, JSON.stringify({ ...state, backendUrl: `https://127.0.0.1:${proxy.port}` }));
      proxied = { ...agent, proc: startAgent(agent.stateDir, FAST, 'proxied') };
      agent = proxied;
      await proxied.proc.waitForLog((e) => e.msg === 'connected', 90_000);
    });

    afterAll(async () => {
      await proxy.close();
    });

    it('latency and a bandwidth cap: requests still answer and telemetry keeps flowing', async ({ annotate }) => {
      proxy.setShaping({ latencyMs: 150, bytesPerSecond: 32 * 1024 });
      const console = await openConsole(backend, admin);
      const started = Date.now();
      expect(await console.request(proxied.deviceId, 'system.echo', { payload: 'slow' })).toMatchObject({ ok: true });
      const rtt = Date.now() - started;
      console.close();
      await sleep(LONG ? 60_000 : 3_000);
      await waitFor(() => spooled(proxied) <= 2, 20_000, 'telemetry to keep up');
      proxy.setShaping({});
      expect(proxied.proc.count((e) => e.msg === 'control channel closed; reconnecting')).toBe(0);
      void annotate(`echo ${rtt} ms under 150 ms latency + 32 KiB/s; no reconnect; spool kept up${LONG ? ' (60 s)' : ''}`);
    });

    it('all connections cut and refused for a while: the agent reconnects and its spool drains', async ({ annotate }) => {
      const connectedBefore = proxied.proc.count((e) => e.msg === 'connected');
      proxy.setPaused(true);
      proxy.cutAll();
      await waitFor(() => spooled(proxied) >= 5, 20_000, 'batches to spool during the cut');
      const during = spooled(proxied);
      proxy.setPaused(false);
      const back = await waitFor(() => proxied.proc.count((e) => e.msg === 'connected') > connectedBefore, 30_000, 'reconnect');
      await waitFor(() => spooled(proxied) === 0, 30_000, 'the spool to drain');
      await waitFor(() => online(proxied.deviceId), 10_000, 'online');
      void annotate(`${during} batches spooled during the cut; reconnected ${back} ms after the network returned; spool drained`);
    });
  });
});
