import { setTimeout as sleep } from 'node:timers/promises';
import { api, cleanup, login, startBackend } from '../test/harness.js';
import { connectFleet, disconnectFleet, enrolFleet, rssKiB } from './fleet.js';

/**
 * `connect`: N simulated agents (default 10,000; BENCH_AGENTS) connect through the real handshake.
 * rssPerAgentKB is the backend's RSS growth per connected agent; handshakesPerSec counts complete
 * connections (TLS + signed X25519 handshake + welcome) per second with 200 in flight.
 */
export async function connect(): Promise<Record<string, number>> {
  const agents = Number(process.env.BENCH_AGENTS ?? 10_000);
  const backend = await startBackend();
  const pid = backend.proc.child.pid ?? 0;
  try {
    const devices = await enrolFleet(backend, agents);
    await sleep(3_000);
    const before = rssKiB(pid);
    const started = performance.now();
    await connectFleet(devices);
    const seconds = (performance.now() - started) / 1000;
    // Steady state: V8's memory reducer collects the handshakes' garbage once allocation calms down.
    let after = rssKiB(pid);
    for (let i = 0; i < 6; i++) {
      await sleep(5_000);
      after = Math.min(after, rssKiB(pid));
    }
    const admin = await login(backend);
    const list = (await api(backend, 'GET', '/api/v1/devices', { token: admin })).body as { devices: Array<{ online: boolean }> };
    const online = list.devices.filter((d) => d.online).length;
    disconnectFleet(devices);
    return {
      agents: online,
      rssPerAgentKB: Math.round(((after - before) / agents) * 10) / 10,
      handshakesPerSec: Math.round(agents / seconds),
      backendRssMB: Math.round(after / 1024),
    };
  } finally {
    await backend.stop();
    cleanup(backend.home);
  }
}
