/**
 * A simulated fleet for benchmarks: devices enrolled through the real API and connected with
 * the real agent code (ControlClient → channel/ handshake, sealed session, RPC), many per process.
 * Device keys are the costly part of enrolment, so the simulated devices share one key pair and
 * one CSR; each still gets its own id, certificate and telemetry token from the backend.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { pino } from 'pino';
import { createDeviceKeyAndCsr } from '../agent/enrol/csr.js';
import { ControlClient, type ControlClientOptions } from '../agent/control/control-client.js';
import type { AgentState } from '../agent/state/agent-state.js';
import { RegisterResponse } from '../protocol/index.js';
import type { Backend } from '../test/harness.js';
import { createToken, login } from '../test/harness.js';

export interface SimulatedDevice { state: AgentState; client?: ControlClient }

/** Progress on one line, so long phases show they are moving. */
export function progress(label: string, done: number, total: number): void {
  if (process.stderr.isTTY) process.stderr.write(`\r${label}: ${done}/${total}${done === total ? '\n' : ''}`);
  else if (done === total || done % Math.max(1, Math.floor(total / 10)) === 0) process.stderr.write(`${label}: ${done}/${total}\n`);
}

/** POSTs with a keep-alive agent; enrolment of thousands of devices must not open thousands of TLS sessions. */
function postJson(backend: Backend, path: string, body: unknown): Promise<unknown> {
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, backend.url), { method: 'POST', ca: backend.caCertPem, headers: { 'content-type': 'application/json', 'content-length': payload.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const json: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        if ((res.statusCode ?? 0) >= 300) reject(new Error(`${path}: ${res.statusCode} ${JSON.stringify(json)}`));
        else resolve(json);
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

export async function enrolFleet(backend: Backend, count: number, concurrency = 8): Promise<SimulatedDevice[]> {
  const admin = await login(backend);
  const token = await createToken(backend, admin, { uses: count, ttlSeconds: 3600 });
  const { keyPem, csrPem } = await createDeviceKeyAndCsr();
  const caCertPem = readFileSync(join(backend.home, 'pki', 'ca.crt'), 'utf8');
  const devices: SimulatedDevice[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const res = RegisterResponse.parse(await postJson(backend, '/api/v1/agent/register', { token, csr: csrPem, name: `sim-${i}` }));
      devices.push({
        state: {
          deviceId: res.deviceId, backendUrl: backend.url, caPin: backend.caPin, name: `sim-${i}`, registeredAt: Date.now(),
          keyPem, certPem: res.certificate, caCertPem, telemetryToken: res.telemetryToken,
        },
      });
      progress('enrol', devices.length, count);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return devices;
}

const silent = pino({ level: 'silent' });

/** What a simulated device does on its channel; the default answers `system.echo`. */
export type DeviceBehaviour = (device: SimulatedDevice, client: () => ControlClient) => Pick<ControlClientOptions, 'onConnected' | 'onStream' | 'onDisconnected'>;

const echoBehaviour: DeviceBehaviour = () => ({ onConnected: (rpc) => rpc.handle('system.echo', (params) => params) });

/**
 * Connects devices with at most `inFlight` handshakes at a time (a real fleet does not arrive in
 * one millisecond either), each with `behaviour`. Resolves when all are connected.
 */
export async function connectFleet(devices: SimulatedDevice[], options: { inFlight?: number; behaviour?: DeviceBehaviour } = {}): Promise<void> {
  const behaviour = options.behaviour ?? echoBehaviour;
  let next = 0;
  let connected = 0;
  const connectOne = (device: SimulatedDevice) => new Promise<void>((resolve, reject) => {
    const handlers = behaviour(device, () => client);
    const client: ControlClient = new ControlClient({
      state: device.state,
      log: silent,
      ...handlers,
      onConnected: (rpc) => {
        handlers.onConnected(rpc);
        resolve();
      },
      onFatal: (code) => reject(new Error(`${device.state.deviceId} refused: ${code}`)),
    });
    device.client = client;
    client.start();
  });
  const worker = async () => {
    while (next < devices.length) {
      const device = devices[next++];
      if (!device) return;
      await connectOne(device);
      progress('connect', ++connected, devices.length);
    }
  };
  await Promise.all(Array.from({ length: options.inFlight ?? 200 }, worker));
}

export function disconnectFleet(devices: SimulatedDevice[]): void {
  for (const device of devices) device.client?.stop();
}

/** Resident set size of a process in KiB, from /proc. */
export function rssKiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? NaN);
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/**
 * The allocator the backend runs with, as deployed: build/backend/tether-backend.service preloads
 * jemalloc (Debian's libjemalloc2), which holds per-connection memory far better than glibc's
 * malloc under a connect storm. BENCH_ALLOCATOR=glibc measures without it.
 */
export function backendAllocator(): { name: 'jemalloc' | 'glibc'; env: Record<string, string> } {
  if (process.env.BENCH_ALLOCATOR === 'glibc') return { name: 'glibc', env: {} };
  let found = false;
  try {
    found = execFileSync('ldconfig', ['-p'], { encoding: 'utf8' }).includes('libjemalloc.so.2');
  } catch {
    // no ldconfig: treat as absent
  }
  if (!found) {
    process.stderr.write('libjemalloc.so.2 not found (apt-get install libjemalloc2): measuring with glibc malloc\n');
    return { name: 'glibc', env: {} };
  }
  return { name: 'jemalloc', env: { LD_PRELOAD: 'libjemalloc.so.2' } };
}
