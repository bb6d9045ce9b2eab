import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import WebSocket from 'ws';
import { ROOT, cleanup, login, openConsole, startBackend } from '../test/harness.js';
import { connectFleet, disconnectFleet, enrolFleet, percentile } from './fleet.js';

const WARMUP = 200;
const SAMPLES = 3_000;
const PAYLOAD = 'x'.repeat(64);

/** Round trips of a plain wss echo in its own process: the floor the relay is compared with. */
async function rawWsEcho(home: string, caCertPem: string): Promise<number[]> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'raw-ws-echo.ts'), home], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
    const ws = new WebSocket(`wss://127.0.0.1:${chunk.toString().trim()}`, { ca: caCertPem, perMessageDeflate: false });
    await once(ws, 'open');
    const times: number[] = [];
    const message = JSON.stringify({ type: 'device.request', id: 0, deviceId: 'dev_x', method: 'system.echo', params: { payload: PAYLOAD } });
    for (let i = 0; i < WARMUP + SAMPLES; i++) {
      const started = performance.now();
      ws.send(message);
      await once(ws, 'message');
      if (i >= WARMUP) times.push(performance.now() - started);
    }
    ws.close();
    return times.sort((a, b) => a - b);
  } finally {
    child.kill();
  }
}

/**
 * `rtt`: with N agents connected (default 1,000; BENCH_AGENTS), sequential `system.echo`
 * requests from a console socket through the backend to random agents and back, against a plain
 * ws echo measured in the same run.
 */
export async function rtt(): Promise<Record<string, number>> {
  const agents = Number(process.env.BENCH_AGENTS ?? 1_000);
  const backend = await startBackend();
  try {
    const devices = await enrolFleet(backend, agents);
    await connectFleet(devices);
    const console = await openConsole(backend, await login(backend));
    const times: number[] = [];
    for (let i = 0; i < WARMUP + SAMPLES; i++) {
      const device = devices[Math.floor(Math.random() * devices.length)];
      const started = performance.now();
      const answer = await console.request(device?.state.deviceId ?? '', 'system.echo', { payload: PAYLOAD });
      if (!answer.ok) throw new Error(`echo failed: ${JSON.stringify(answer.error)}`);
      if (i >= WARMUP) times.push(performance.now() - started);
    }
    console.close();
    disconnectFleet(devices);
    times.sort((a, b) => a - b);
    const raw = await rawWsEcho(backend.home, backend.caCertPem);
    const round = (n: number) => Math.round(n * 1000) / 1000;
    const p99 = percentile(times, 99);
    const rawP99 = percentile(raw, 99);
    return { agents, p50Ms: round(percentile(times, 50)), p99Ms: round(p99), rawWsP50Ms: round(percentile(raw, 50)), rawWsP99Ms: round(rawP99), ratioP99: round(p99 / rawP99) };
  } finally {
    await backend.stop();
    cleanup(backend.home);
  }
}
