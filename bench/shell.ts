import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { spawn as spawnPty } from 'node-pty';
import WebSocket from 'ws';
import { z } from 'zod';
import { ROOT, api, cleanup, enrolAndRun, login, startBackend, tempDir } from '../test/harness.js';
import { ShellClient } from '../test/shell-client.js';
import { cpuSeconds } from './agent.js';
import { percentile } from './fleet.js';

/** Keystrokes timed: over 300 the p99 was the third-slowest sample and swung by 2x between runs. */
const ECHO_SAMPLES = 1000;

/** Output counted so far and a wait for more: the measuring side sleeps until bytes arrive (a polling loop would take a core from the relay). */
interface Output {
  received(): number;
  past(count: number): Promise<void>;
}

/** Keystroke → echo latencies, one character at a time, line cleared every 50. */
async function echoLatencies(send: (s: string) => void, output: Output): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < ECHO_SAMPLES; i++) {
    if (i % 50 === 49) {
      const before = output.received();
      send('\x15');
      await output.past(before);
      await new Promise((r) => setTimeout(r, 20));
      continue;
    }
    const before = output.received();
    const t0 = performance.now();
    send('x');
    await output.past(before);
    samples.push(performance.now() - t0);
  }
  return samples.sort((a, b) => a - b);
}

/** Bytes counted as `subscribe` reports them, as {@link Output}. */
function countedOutput(subscribe: (listener: (bytes: number) => void) => void): Output {
  let count = 0;
  let waiter: { count: number; wake: () => void } | null = null;
  subscribe((bytes) => {
    count += bytes;
    if (waiter && count > waiter.count) {
      const { wake } = waiter;
      waiter = null;
      wake();
    }
  });
  return {
    received: () => count,
    past: (before) => (count > before ? Promise.resolve() : new Promise((wake) => (waiter = { count: before, wake }))),
  };
}

/**
 * The relay's floor on this machine, measured in the same run: a plain wss relay in front of a
 * plain wss echo, each in its own process like the backend and the agent (bench/raw-ws-echo.ts),
 * so a keystroke makes the same four hops over the same TLS, without a PTY or sealed frames.
 */
async function rawRelay(home: string, caCertPem: string): Promise<{ send(s: string): void; output: Output; close(): void }> {
  const children: ChildProcess[] = [];
  const start = async (...args: string[]): Promise<string> => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'raw-ws-echo.ts'), home, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    const [port] = (await once(child.stdout, 'data')) as [Buffer];
    return port.toString().trim();
  };
  const relayPort = await start(await start());
  const ws = new WebSocket(`wss://127.0.0.1:${relayPort}`, { ca: caCertPem, perMessageDeflate: false });
  await once(ws, 'open');
  return {
    send: (s) => ws.send(Buffer.from(s), { binary: true }),
    output: countedOutput((listener) => ws.on('message', (data: Buffer) => listener(data.length))),
    close: () => {
      ws.close();
      for (const child of children) child.kill();
    },
  };
}

/**
 * `shell`: keystroke echo through console socket → backend → agent PTY and back (p50/p99), the
 * same on a local node-pty for reference, cat of a 100 MB file to a console client in its own process (bench/shell-cat-client.ts; MB/s), and
 * the most output the backend ever held for the session waiting on the console's acks.
 */
export async function shell(): Promise<Record<string, number>> {
  const sizeMB = Number(process.env.BENCH_SHELL_MB ?? 100);
  const backend = await startBackend();
  const dir = tempDir('bench-shell');
  let agent: Awaited<ReturnType<typeof enrolAndRun>> | null = null;
  try {
    const admin = await login(backend);
    agent = await enrolAndRun(backend, admin, 'bench-shell', { TETHER_SHELL: '/bin/sh', PS1: '$ ', TETHER_TELEMETRY_INTERVAL_MS: '5000' });
    const term = await ShellClient.open(backend, admin, { deviceId: agent.deviceId, cols: 120, rows: 40 });
    await term.waitFor('$ ');
    const remote = await echoLatencies((s) => term.type(s), { received: () => term.received, past: (before) => term.until(() => term.received > before, 10_000, 'the echo') });

    const pty = spawnPty('/bin/sh', [], { cols: 120, rows: 40, env: { ...process.env, PS1: '$ ' } });
    const local = countedOutput((listener) => pty.onData((data) => listener(data.length)));
    await new Promise((r) => setTimeout(r, 300));
    const raw = await echoLatencies((s) => pty.write(s), local);
    pty.kill();
    const relay = await rawRelay(backend.home, backend.caCertPem);
    const relayed = await echoLatencies(relay.send, relay.output).finally(relay.close);

    term.close();
    const file = join(dir, 'payload');
    writeFileSync(file, Buffer.alloc(sizeMB * 1024 * 1024, 'a'));
    // The same cat on a local PTY, in this run: the machine is shared, so compare against this.
    const rawMBps = await localCat(file, sizeMB);
    const client = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'shell-cat-client.ts'), JSON.stringify({ url: backend.url, caCertPem: backend.caCertPem, token: admin, deviceId: agent.deviceId, file, bytes: sizeMB * 1024 * 1024 })], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: client.stdout })[Symbol.asyncIterator]();
    if ((await lines.next()).value !== 'ready') throw new Error('the shell client did not reach the prompt');
    const pids = [client.pid ?? 0, backend.proc.child.pid ?? 0, agent.proc.child.pid ?? 0];
    const cpu0 = pids.map(cpuSeconds);
    client.stdin.write('go\n');
    const done = (await lines.next()).value;
    const cpu = pids.map((pid, i) => cpuSeconds(pid) - (cpu0[i] ?? 0));
    const { sessionId, seconds } = z.object({ sessionId: z.string(), seconds: z.number() }).parse(JSON.parse(String(done)));
    rmSync(file);

    const list = await api(backend, 'GET', `/api/v1/shell/sessions?deviceId=${agent.deviceId}`, { token: admin });
    const info = (list.body as { sessions: Array<{ id: string; maxPendingBytes: number | null }> }).sessions.find((s) => s.id === sessionId);
    const echoP99Ms = percentile(remote, 99);
    const rawRelayEchoP99Ms = percentile(relayed, 99);
    return {
      echoP50Ms: round(percentile(remote, 50)),
      echoP99Ms: round(echoP99Ms),
      rawPtyEchoP99Ms: round(percentile(raw, 99)),
      rawRelayEchoP50Ms: round(percentile(relayed, 50)),
      rawRelayEchoP99Ms: round(rawRelayEchoP99Ms),
      // The targets: echo p99 within 1.3x a raw wss relay's, throughput at least 0.6 of a raw PTY's.
      echoRatioP99: round(echoP99Ms / rawRelayEchoP99Ms),
      throughputMBps: round(sizeMB / seconds),
      rawPtyMBps: round(rawMBps),
      throughputRatio: round(sizeMB / seconds / rawMBps),
      // CPU of console client + backend + agent per MB relayed: the work removed, whatever the load.
      clientCpuMsPerMB: round(((cpu[0] ?? 0) * 1000) / sizeMB),
      cpuMsPerMB: round(((cpu[0] ?? 0) + (cpu[1] ?? 0) + (cpu[2] ?? 0)) * 1000 / sizeMB),
      backendCpuMsPerMB: round(((cpu[1] ?? 0) * 1000) / sizeMB),
      agentCpuMsPerMB: round(((cpu[2] ?? 0) * 1000) / sizeMB),
      maxBufferedKB: round((info?.maxPendingBytes ?? NaN) / 1024),
    };
  } finally {
    await agent?.proc.stop();
    await backend.stop();
    cleanup(backend.home, dir, ...(agent ? [agent.stateDir] : []));
  }
}

/** MB/s of `cat file` on a local node-pty. */
async function localCat(file: string, sizeMB: number): Promise<number> {
  const pty = spawnPty('/bin/cat', [file], { cols: 120, rows: 40, encoding: null });
  const t0 = performance.now();
  await new Promise<void>((resolve) => pty.onExit(() => resolve()));
  return sizeMB / ((performance.now() - t0) / 1000);
}

const round = (n: number) => Math.round(n * 100) / 100;
