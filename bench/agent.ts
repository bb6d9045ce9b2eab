/**
 * Agent: a real agent process (enrolled with a real backend) sampling every 5 s for
 * TETHER_BENCH_AGENT_S seconds (default 300): its resident memory and CPU, from /proc.
 * It runs the bundle devices install (`npm run build:agent`, built here into a temp dir); the
 * development launcher (bin/tether-agent.js through tsx, whose loader thread alone is ~20 MB)
 * is measured instead with TETHER_BENCH_AGENT_DEV=1.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildAgentBundle } from '../build/agent/build.js';
import { cleanup, createToken, deviceOf, enrolAndRun, FAST_AGENT_ENV, login, Proc, registerAgent, startBackend, tempDir, waitFor, type Backend } from '../test/harness.js';

const SECONDS = Number(process.env.TETHER_BENCH_AGENT_S ?? 300);
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** User + system CPU seconds a process has used, from /proc. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

function rssMB(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return kb / 1024;
}

/** Enrols a device with the dev CLI, then runs it from the bundle. */
async function enrolAndRunBundle(backend: Backend, admin: string, env: Record<string, string>): Promise<{ proc: Proc; stateDir: string; bundleDir: string }> {
  const bundleDir = tempDir('bench-agent-bundle');
  const bundle = await buildAgentBundle(bundleDir);
  const stateDir = tempDir('agent');
  const reg = await registerAgent(backend, await createToken(backend, admin), stateDir, ['--name', 'bench-agent']);
  if (reg.code !== 0) throw new Error(`register failed: ${reg.output}`);
  const deviceId = (JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as { deviceId: string }).deviceId;
  // Through the bundle's launcher, as systemd runs it (it execs node, so the pid stays the agent's).
  const child = spawn(join(bundle.dir, 'bin', 'tether-agent'), ['run', '--state', stateDir], {
    env: { ...process.env, ...FAST_AGENT_ENV, TETHER_NODE: process.execPath, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const proc = new Proc(child, 'bench-agent');
  await waitFor(async () => (await deviceOf(backend, admin, deviceId))?.online === true, 30_000, 'bundled agent online');
  return { proc, stateDir, bundleDir };
}

export async function agent(): Promise<Record<string, number>> {
  const backend = await startBackend();
  const admin = await login(backend);
  const env = { TETHER_TELEMETRY_INTERVAL_MS: '5000' };
  const running = process.env.TETHER_BENCH_AGENT_DEV === '1'
    ? { ...(await enrolAndRun(backend, admin, 'bench-agent', env)), bundleDir: null }
    : await enrolAndRunBundle(backend, admin, env);
  try {
    const pid = running.proc.child.pid;
    if (pid === undefined) throw new Error('no agent pid');
    // Let start-up (module loading, enrolment, first collectors) settle before measuring.
    await new Promise((r) => setTimeout(r, 10_000));
    const cpu0 = cpuSeconds(pid);
    const t0 = performance.now();
    const rss: number[] = [];
    while (performance.now() - t0 < SECONDS * 1000) {
      await new Promise((r) => setTimeout(r, 5_000));
      rss.push(rssMB(pid));
    }
    const cpuPercent = ((cpuSeconds(pid) - cpu0) / ((performance.now() - t0) / 1000)) * 100;
    return { seconds: SECONDS, rssMB: rss.reduce((a, b) => a + b, 0) / rss.length, rssMaxMB: Math.max(...rss), cpuPercent };
  } finally {
    await running.proc.stop();
    await backend.stop();
    cleanup(running.stateDir, backend.home, ...(running.bundleDir ? [running.bundleDir] : []));
  }
}
