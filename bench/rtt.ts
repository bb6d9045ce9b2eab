import { fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import WebSocket from 'ws';
import { ROOT, cleanup, login, openConsole, startBackend } from '../test/harness.js';
import { percentile } from './fleet.js';

const WARMUP = 200;
const SAMPLES = 5_000;
const PAYLOAD = 'x'.repeat(64);

/** A plain wss echo in its own process, like the backend: the floor the relay is compared with. */
async function startRawEcho(home: string, caCertPem: string): Promise<{ roundTrip(message: string): Promise<number>; close(): void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'raw-ws-echo.ts'), home], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
  const ws = new WebSocket(`wss://127.0.0.1:${chunk.toString().trim()}`, { ca: caCertPem, perMessageDeflate: false });
  await once(ws, 'open');
  return {
    roundTrip: async (message) => {
      const started = performance.now();
      ws.send(message);
      await once(ws, 'message');
      return performance.now() - started;
    },
    close: () => {
      ws.close();
      child.kill();
    },
  };
}

/**
 * `rtt`: with N agents connected (default 1,000; BENCH_AGENTS), sequential `system.echo`
 * requests from a console socket through the backend to random agents and back, against a plain
 * ws echo measured in the same run.
 */
export async function rtt(): Promise<Record<string, number>> {
  const agents = Number(process.env.BENCH_AGENTS ?? 1_000);
  const backend = await startBackend();
  // The fleet runs in a child process: its 1,000 agents' timers and garbage stay out of this
  // process, which only measures, as the raw echo client does.
  const fleet = fork(join(ROOT, 'bench', 'fleet-process.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    fleet.send({ backend: { url: backend.url, caPin: backend.caPin, caCertPem: backend.caCertPem, home: backend.home, port: backend.port }, count: agents });
    const [{ deviceIds }] = (await once(fleet, 'message')) as [{ deviceIds: string[] }];
    const console = await openConsole(backend, await login(backend));
    const raw = await startRawEcho(backend.home, backend.caCertPem);
    const rawMessage = JSON.stringify({ type: 'device.request', id: 0, deviceId: deviceIds[0], method: 'system.echo', params: { payload: PAYLOAD } });
    // Relay and raw samples alternate, so both see the same moments of a shared, noisy machine.
    const times: number[] = [];
    const rawTimes: number[] = [];
    for (let i = 0; i < WARMUP + SAMPLES; i++) {
      const deviceId = deviceIds[Math.floor(Math.random() * deviceIds.length)] ?? '';
      const started = performance.now();
      const answer = await console.request(deviceId, 'system.echo', { payload: PAYLOAD });
      if (!answer.ok) throw new Error(`echo failed: ${JSON.stringify(answer.error)}`);
      const relayMs = performance.now() - started;
      const rawMs = await raw.roundTrip(rawMessage);
      if (i >= WARMUP) {
        times.push(relayMs);
        rawTimes.push(rawMs);
      }
    }
    console.close();
    raw.close();
    times.sort((a, b) => a - b);
    rawTimes.sort((a, b) => a - b);
    const round = (n: number) => Math.round(n * 1000) / 1000;
    const p99 = percentile(times, 99);
    const rawP99 = percentile(rawTimes, 99);
    return { agents, p50Ms: round(percentile(times, 50)), p99Ms: round(p99), rawWsP50Ms: round(percentile(rawTimes, 50)), rawWsP99Ms: round(rawP99), ratioP99: round(p99 / rawP99) };
  } finally {
    fleet.kill();
    await backend.stop();
    cleanup(backend.home);
  }
}
