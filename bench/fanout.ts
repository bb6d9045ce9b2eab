import type { JobDetail, JobList } from '../protocol/index.js';
import { api, cleanup, login, startBackend } from '../test/harness.js';
import { runnerBehaviour } from './canned-runner.js';
import { connectFleet, disconnectFleet, enrolFleet, type SimulatedDevice } from './fleet.js';

/**
 * `fanout`: one job runs `uname -a` on N simulated agents (default 1,000; BENCH_FANOUT_AGENTS)
 * at full concurrency; allResultsMs is from the job's creation until every run is final (the
 * backend's dispatch, output streams and result storage; see bench/canned-runner.ts).
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
