import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { api, cleanup, ROOT, startBackend, type Backend } from '../test/harness.js';
import { percentile, rssKiB } from './fleet.js';

export interface StormResult {
  agents: number;
  allReconnectedMs: number;
  reconnected: number;
  peakRssMB: number;
  healthzP99Ms: number;
  healthzMaxMs: number;
}

/**
 * A reconnect storm: `count` connected agents lose their connections at the same instant (a TCP
 * proxy resets them all) and come back by themselves. Measures the time until every one is
 * connected again, the backend's peak RSS (sampled every 250 ms) and how fast /healthz answers
 * meanwhile (a new TLS connection per probe, as a load balancer's check would make).
 */
export async function runStorm(count: number, options: { timeoutMs?: number; backend?: Backend } = {}): Promise<StormResult> {
  const backend = options.backend ?? (await startBackend());
  const pid = backend.proc.child.pid ?? 0;
  const fleet: ChildProcess = fork(join(ROOT, 'bench', 'storm-fleet-process.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const messages: Array<Record<string, unknown>> = [];
    const waiters: Array<() => void> = [];
    fleet.on('message', (m: Record<string, unknown>) => {
      messages.push(m);
      for (const w of waiters.splice(0)) w();
    });
    const next = (match: (m: Record<string, unknown>) => boolean, timeoutMs: number) => new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`storm: timed out; last ${JSON.stringify(messages.at(-1))}`)), timeoutMs);
      const check = () => {
        const hit = messages.find(match);
        if (hit) {
          clearTimeout(timer);
          resolve(hit);
        } else waiters.push(check);
      };
      fleet.once('exit', (code) => reject(new Error(`storm fleet exited ${code}`)));
      check();
    });
    fleet.send({ backend: { url: backend.url, port: backend.port, caPin: backend.caPin, caCertPem: backend.caCertPem, home: backend.home }, count });
    await next((m) => m.ready === true, 30 * 60_000);

    let peakKiB = rssKiB(pid);
    const healthz: number[] = [];
    let sampling = true;
    const rssTimer = setInterval(() => (peakKiB = Math.max(peakKiB, rssKiB(pid))), 250);
    const probe = (async () => {
      while (sampling) {
        const t = performance.now();
        await api(backend, 'GET', '/healthz').catch(() => undefined);
        healthz.push(performance.now() - t);
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    fleet.send('drop');
    // A storm that does not settle in time is a result too (NaN ms, and how many came back), not a crash.
    const done = await next((m) => m.done === true, options.timeoutMs ?? 600_000).catch(() => ({ ms: NaN })).finally(() => {
      sampling = false;
      clearInterval(rssTimer);
    });
    await probe;
    const last = [...messages].reverse().find((m) => typeof m.reconnected === 'number');
    healthz.sort((a, b) => a - b);
    return {
      agents: count,
      allReconnectedMs: Number(done.ms),
      reconnected: Number.isFinite(Number(done.ms)) ? count : typeof last?.reconnected === 'number' ? last.reconnected : 0,
      peakRssMB: Math.round(peakKiB / 1024),
      healthzP99Ms: Math.round(percentile(healthz, 99)),
      healthzMaxMs: Math.round(healthz.at(-1) ?? NaN),
    };
  } finally {
    fleet.kill('SIGKILL');
    if (!options.backend) {
      await backend.stop();
      cleanup(backend.home);
    }
  }
}

/** `npm run bench -- storm`: 5,000 agents (BENCH_AGENTS) dropped at once; target allReconnectedMs < 60,000. */
export async function storm(): Promise<Record<string, number>> {
  const result = await runStorm(Number(process.env.BENCH_AGENTS ?? 5_000));
  return { ...result };
}
