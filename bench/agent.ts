/**
 * Agent: a real agent process (enrolled with a real backend) sampling every 5 s for
 * TETHER_BENCH_AGENT_S seconds (default 300): its resident memory and CPU, from /proc.
 */
import { readFileSync } from 'node:fs';
import { cleanup, enrolAndRun, login, startBackend } from '../test/harness.js';

const SECONDS = Number(process.env.TETHER_BENCH_AGENT_S ?? 300);
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

function rssMB(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return kb / 1024;
}

export async function agent(): Promise<Record<string, number>> {
  const backend = await startBackend();
  const admin = await login(backend);
  const running = await enrolAndRun(backend, admin, 'bench-agent', { TETHER_TELEMETRY_INTERVAL_MS: '5000' });
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
    cleanup(running.stateDir, backend.home);
  }
}
