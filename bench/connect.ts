import { setTimeout as sleep } from 'node:timers/promises';
import { api, cleanup, login, startBackend, type Backend } from '../test/harness.js';
import { backendAllocator, connectFleet, disconnectFleet, enrolFleet, rssKiB } from './fleet.js';

/** The backend's V8 heap and C++-bound memory in KiB, from its /metrics. */
async function heapKiB(backend: Backend): Promise<number> {
  const text = String((await api(backend, 'GET', '/metrics')).body);
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return (value('nodejs_heap_size_used_bytes') + value('nodejs_external_memory_bytes')) / 1024;
}

/**
 * `connect`: N simulated agents (default 10,000; BENCH_AGENTS) connect through the real handshake.
 * rssPerAgentKB is the backend's RSS growth per connected agent; handshakesPerSec counts complete
 * connections (TLS + signed X25519 handshake + welcome) per second with 200 in flight. The measured
 * backend runs with the deployed allocator (jemalloc where installed; `jemalloc` is 1 or 0).
 */
export async function connect(): Promise<Record<string, number>> {
  const agents = Number(process.env.BENCH_AGENTS ?? 10_000);
  let backend = await startBackend();
  try {
    const devices = await enrolFleet(backend, agents);
    // A fresh process holding the enrolled fleet, so enrolment's garbage is not in the baseline.
    await backend.stop();
    const allocator = backendAllocator();
    process.stderr.write(`backend allocator: ${allocator.name}\n`);
    backend = await startBackend({ home: backend.home, port: backend.port, env: allocator.env });
    const pid = backend.proc.child.pid ?? 0;
    await sleep(3_000);
    const before = rssKiB(pid);
    const heapBefore = await heapKiB(backend);
    const started = performance.now();
    await connectFleet(devices);
    const seconds = (performance.now() - started) / 1000;
    // Steady state: V8's memory reducer collects the handshakes' garbage once allocation calms down.
    let after = rssKiB(pid);
    for (let i = 0; i < 6; i++) {
      await sleep(5_000);
      after = Math.min(after, rssKiB(pid));
    }
    const heapAfter = await heapKiB(backend);
    const admin = await login(backend);
    const list = (await api(backend, 'GET', '/api/v1/devices', { token: admin })).body as { devices: Array<{ online: boolean }> };
    const online = list.devices.filter((d) => d.online).length;
    disconnectFleet(devices);
    return {
      agents: online,
      rssPerAgentKB: Math.round(((after - before) / agents) * 10) / 10,
      handshakesPerSec: Math.round(agents / seconds),
      backendRssMB: Math.round(after / 1024),
      heapPerAgentKB: Math.round(((heapAfter - heapBefore) / agents) * 10) / 10,
      jemalloc: allocator.name === 'jemalloc' ? 1 : 0,
    };
  } finally {
    await backend.stop();
    cleanup(backend.home);
  }
}
