import { execFileSync } from 'node:child_process';
import { pino } from 'pino';
import type { RpcPeer } from '../channel/rpc.js';
import { RemoteAccess } from '../agent/shell/remote-access.js';
import { resolveShellConfig } from '../agent/shell/shell-config.js';
import { AGENT_METHODS, type JobDetail, type JobList } from '../protocol/index.js';
import { api, cleanup, login, startBackend } from '../test/harness.js';
import { connectFleet, disconnectFleet, enrolFleet, type DeviceBehaviour, type SimulatedDevice } from './fleet.js';

const silent = pino({ level: 'silent' });

/**
 * A simulated device's command handler: answers `command.start` with the real `uname -a` output
 * (captured once) on its stdout stream and a `command.exit`, without forking. A thousand devices
 * share one process here, and forking a large process a thousand times measures the simulator,
 * not the backend; BENCH_FANOUT_SPAWN=1 uses the agent's real runner instead.
 */
function registerCannedRunner(rpc: RpcPeer, send: (id: number, data: Uint8Array) => boolean, output: Buffer): void {
  rpc.handle('command.start', (params) => {
    const p = AGENT_METHODS['command.start'].params.parse(params);
    setImmediate(() => {
      send(p.stdoutStreamId, output);
      rpc.emit('command.exit', { stdoutStreamId: p.stdoutStreamId, outcome: 'exited', exitCode: 0, signal: null, truncated: false });
    });
    return { pid: 1 };
  });
}

/** Simulated devices that run commands (canned, or with the agent's real RemoteAccess). */
function runnerBehaviour(): DeviceBehaviour {
  const config = resolveShellConfig({ shell: process.env.TETHER_SHELL || process.env.SHELL });
  const spawnReal = process.env.BENCH_FANOUT_SPAWN === '1';
  const unameOutput = execFileSync('uname', ['-a']);
  return (_device, client) => {
    const remote = new RemoteAccess({ config, log: silent, send: (id, data) => client().sendStream(id, data) });
    return {
      onConnected: (rpc) => {
        if (spawnReal) remote.register(rpc);
        else registerCannedRunner(rpc, (id, data) => client().sendStream(id, data), unameOutput);
      },
      onStream: (id, data) => remote.onStream(id, data),
      onDisconnected: () => remote.onDisconnected(),
    };
  };
}

/**
 * `fanout`: one job runs `uname -a` on N simulated agents (default 1,000; BENCH_FANOUT_AGENTS)
 * at full concurrency; allResultsMs is from the job's creation until every run is final (the
 * backend's dispatch, output streams and result storage; see registerCannedRunner).
 */
export async function fanout(): Promise<Record<string, number>> {
  const agents = Number(process.env.BENCH_FANOUT_AGENTS ?? 1000);
  const backend = await startBackend();
  let devices: SimulatedDevice[] = [];
  try {
    devices = await enrolFleet(backend, agents);
    await connectFleet(devices, { behaviour: runnerBehaviour() });
    const admin = await login(backend);
    const t0 = performance.now();
    const res = await api(backend, 'POST', '/api/v1/jobs', { token: admin, body: { selection: { query: 'sim-' }, command: { shell: 'uname -a' }, concurrency: agents, timeoutMs: 120_000 } });
    if (res.status !== 200) throw new Error(`job create: ${res.status} ${JSON.stringify(res.body)}`);
    const id = (res.body as JobDetail).id;
    for (;;) {
      const list = (await api(backend, 'GET', '/api/v1/jobs?limit=1', { token: admin })).body as JobList;
      const job = list.jobs.find((j) => j.id === id);
      if (job && job.state !== 'running') break;
      await new Promise((r) => setTimeout(r, 25));
    }
    const allResultsMs = performance.now() - t0;
    const done = (await api(backend, 'GET', `/api/v1/jobs/${id}`, { token: admin })).body as JobDetail;
    const errors = new Map<string, number>();
    for (const run of done.runs) if (run.state !== 'succeeded') errors.set(`${run.state}: ${(run.error ?? run.stderr).slice(0, 80)}`, (errors.get(`${run.state}: ${(run.error ?? run.stderr).slice(0, 80)}`) ?? 0) + 1);
    if (errors.size > 0) process.stderr.write(`fanout failures: ${JSON.stringify([...errors.entries()].slice(0, 5))}\n`);
    return { agents, allResultsMs: Math.round(allResultsMs), succeeded: done.counts.succeeded ?? 0 };
  } finally {
    disconnectFleet(devices);
    await backend.stop();
    cleanup(backend.home);
  }
}
