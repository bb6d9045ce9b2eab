import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, copyFileSync, createReadStream, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import WebSocket from 'ws';
import { z } from 'zod';
import type { ApiTarget } from '../cli/api-client.js';
import { DOWNLOAD_WRITE_QUEUE_BYTES, downloadFile, downloadPartPath, uploadFile, uploadTransferId, type CopyIo, type CopyOptions } from '../cli/file-copy.js';
import { FILE_SETTLED_MS } from '../protocol/index.js';
import { ADMIN_PASSWORD, ROOT, cleanup, enrolAndRun, login, startBackend, tempDir, type Backend } from '../test/harness.js';
import { cpuSeconds } from './agent.js';
import { percentile } from './fleet.js';
import { bytesOf, receiveFile, sendFile } from './raw-wss-file.js';

const MB = 1024 * 1024;
/** Each throughput is measured this many times, baseline and Tether alternating; the best of each counts. */
const ROUNDS = 4;
/** Two of each kind of download: of a file at rest, of a file just made, of a file sent before. */
const DOWNLOAD_ROUNDS = 6;
const RTT_WARMUP = 100;
const RTT_SAMPLES = 1_000;
const RTT_PAYLOAD = Buffer.alloc(64, 'x');
/** New connections timed to their first echo: each is a WebSocket, a forward stream and a device-side connect. */
const CONNECT_SAMPLES = 50;
const SAMPLE_MS = 50;
const PROGRESS_MS = 2_000;
/** What `tether cp` reads per chunk of an upload (createReadStream's default). */
const UPLOAD_CHUNK_BYTES = 64 * 1024;
const TCP_CHUNK_BYTES = 256 * 1024;
/** No interruption is retried: a resumed copy would not be the throughput of one. */
const COPY: CopyOptions = { json: true, retries: 0 };
const TETHER = join(ROOT, 'bin', 'tether.js');

const round = (n: number) => Math.round(n * 100) / 100;

/** Every phase ends within this (the slowest rate taken for working is 2 MB/s), so a hung stream fails the run instead of stalling it. */
const deadlineMs = (bytes: number) => 60_000 + (bytes / MB) * 500;

async function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not done within ${Math.round(ms / 1000)} s`)), ms)));
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

function progress(label: string, done: number, total: number): void {
  process.stderr.write(`  ${label}: ${Math.floor(done / MB)} of ${Math.round(total / MB)} MB\n`);
}

/** A progress line on stderr every 2 s while `done()` is short of `total`. */
function ticker(label: string, total: number, done: () => number): () => void {
  const timer = setInterval(() => {
    const now = done();
    if (now < total) progress(label, now, total);
  }, PROGRESS_MS);
  return () => clearInterval(timer);
}

/**
 * Samples a file being written every 50 ms (with progress lines): the seconds from the first
 * sample that saw a byte of it to the first that saw all `total`, i.e. the time the bytes were
 * streaming, without what the copy does before (hashing) and after (fsync, commit). A file that
 * was renamed away once complete counts as complete. NaN when it streamed too fast to sample.
 */
function watchArrival(label: string, path: string, total: number): () => number {
  let first: number | null = null;
  let last: number | null = null;
  let size = 0;
  const timer = setInterval(() => {
    size = statSync(path, { throwIfNoEntry: false })?.size ?? (first !== null ? total : 0);
    if (size > 0) first ??= performance.now();
    if (size >= total) last ??= performance.now();
  }, SAMPLE_MS);
  const stopTicker = ticker(label, total, () => size);
  return () => {
    clearInterval(timer);
    stopTicker();
    return first !== null && last !== null && last > first ? (last - first) / 1000 : NaN;
  };
}

/** Peak resident bytes of each pid, from /proc/<pid>/status every 50 ms, until stopped. */
function sampleRss(pids: number[]): () => number[] {
  const peaks = pids.map(rssBytes);
  const timer = setInterval(() => pids.forEach((pid, i) => (peaks[i] = Math.max(peaks[i] ?? 0, rssBytes(pid)))), SAMPLE_MS);
  return () => {
    clearInterval(timer);
    return peaks;
  };
}

function rssBytes(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) * 1024;
}

/** Random bytes (no stream on the way compresses, but random is the honest content), written in 8 MB blocks. */
function writeRandomFile(path: string, bytes: number): void {
  const block = Buffer.alloc(8 * MB);
  const fd = openSync(path, 'w');
  try {
    for (let written = 0; written < bytes; written += block.length) {
      randomFillSync(block);
      writeSync(fd, block, 0, Math.min(block.length, bytes - written));
    }
  } finally {
    closeSync(fd);
  }
}

/** The part file on the device of `tether cp source DEVICE:remote` (the device is this machine). */
function uploadPartPath(deviceId: string, source: string, remote: string): string {
  const { size, mtimeMs } = statSync(source);
  const transfer = uploadTransferId(deviceId, remote, { name: basename(source), size, modifiedAtMs: mtimeMs });
  return join(dirname(remote), `.${basename(remote)}.tether-${transfer}.part`);
}

/** Waits until `path` has not changed for longer than FILE_SETTLED_MS: `tether cp` then hashes it as it sends it. */
async function atRest(path: string): Promise<void> {
  const { mtimeMs, ctimeMs } = statSync(path);
  await new Promise((r) => setTimeout(r, Math.max(0, Math.max(mtimeMs, ctimeMs) + FILE_SETTLED_MS + 200 - Date.now())));
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/** `node --import tsx bench/<script> …args` with its first stdout line (what it listens on). */
async function startHelper(script: string, args: string[], children: ChildProcess[]): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const [chunk] = (await within(60_000, `${script} starting`, once(child.stdout, 'data'))) as [Buffer];
  return { child, line: chunk.toString().trim() };
}

// ── files ──

interface CopyRun {
  /** The whole copy as the user waits for it. */
  seconds: number;
  /** First to last byte landing on the receiving side's disk. */
  streamSeconds: number;
  /** CPU seconds of the measured processes during the copy, in the order given (client first). */
  cpu: number[];
}

async function measured(pids: number[], watch: () => () => number, copy: () => Promise<unknown>): Promise<CopyRun> {
  const stopWatch = watch();
  const cpu0 = pids.map(cpuSeconds);
  const t0 = performance.now();
  try {
    await copy();
  } catch (err) {
    stopWatch();
    throw err;
  }
  const seconds = (performance.now() - t0) / 1000;
  return { seconds, streamSeconds: stopWatch(), cpu: pids.map((pid, i) => cpuSeconds(pid) - (cpu0[i] ?? 0)) };
}

function best(runs: CopyRun[]): CopyRun {
  return runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
}

async function openWs(port: string, caCertPem: string): Promise<WebSocket> {
  const ws = new WebSocket(`wss://127.0.0.1:${port}`, { ca: caCertPem, perMessageDeflate: false });
  ws.on('error', () => undefined);
  await within(30_000, 'raw relay connection', once(ws, 'open'));
  return ws;
}

const Done = z.object({ done: z.number() });

/** The file to the peer through the raw relay: resolves once the peer has it on disk. */
async function rawUpload(relayPort: string, caCertPem: string, local: string, remote: string): Promise<void> {
  const ws = await openWs(relayPort, caCertPem);
  try {
    const answer = new Promise<number>((resolve, reject) => {
      ws.on('message', (data, isBinary) => {
        const done = isBinary ? null : Done.safeParse(JSON.parse(bytesOf(data).toString('utf8')));
        if (done?.success) resolve(done.data.done);
        else reject(new Error('unexpected answer from the raw peer'));
      });
      ws.once('close', () => reject(new Error('the raw relay closed before the peer answered')));
    });
    // Awaited below unless sending fails first; then its rejection must not go unhandled.
    answer.catch(() => undefined);
    ws.send(JSON.stringify({ op: 'sink', path: remote }));
    const sent = await sendFile(ws, local, UPLOAD_CHUNK_BYTES);
    const written = await answer;
    if (written !== sent) throw new Error(`the raw peer wrote ${written} of ${sent} bytes`);
  } finally {
    ws.close();
  }
}

/** The peer's file through the raw relay to `local`, fsynced. */
async function rawDownload(relayPort: string, caCertPem: string, remote: string, local: string): Promise<void> {
  const ws = await openWs(relayPort, caCertPem);
  try {
    // The disk queue `tether cp` downloads with.
    const received = receiveFile(ws, local, DOWNLOAD_WRITE_QUEUE_BYTES);
    ws.send(JSON.stringify({ op: 'source', path: remote }));
    await received;
  } finally {
    ws.close();
  }
}

// ── forwards ──

/** `tether …` as a user runs it, with its own config directory. */
function tether(config: string, args: string[], children: ChildProcess[]): ChildProcess {
  const child = spawn(process.execPath, [TETHER, ...args], { cwd: ROOT, env: { ...process.env, XDG_CONFIG_HOME: config }, stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  return child;
}

async function tetherLogin(backend: Backend, config: string, children: ChildProcess[]): Promise<void> {
  const child = tether(config, ['login', backend.url, '--ca-pin', backend.caPin, '--username', 'admin'], children);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  child.stdin?.end(`${ADMIN_PASSWORD}\n`);
  const [code] = (await within(60_000, 'tether login', once(child, 'exit'))) as [number | null];
  if (code !== 0) throw new Error(`tether login exited with ${code}: ${stderr}`);
}

const Listening = z.object({ event: z.literal('listening'), port: z.number() });

/** `tether forward DEVICE 0:127.0.0.1:PORT --json`: resolves with the local port it listens on. */
async function tetherForward(config: string, deviceId: string, port: number, children: ChildProcess[]): Promise<{ port: number; pid: number }> {
  const child = tether(config, ['forward', deviceId, `0:127.0.0.1:${port}`, '--json'], children);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return within(60_000, 'tether forward listening', new Promise<{ port: number; pid: number }>((resolve, reject) => {
    let buffered = '';
    child.stdout?.setEncoding('utf8').on('data', (s: string) => {
      buffered += s;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const listening = Listening.safeParse(JSON.parse(line));
        if (listening.success) resolve({ port: listening.data.port, pid: child.pid ?? 0 });
      }
    });
    child.once('exit', (code) => reject(new Error(`tether forward exited with ${code}: ${stderr}`)));
  }));
}

/** `bytes` to the sink at `port` and a half-close; resolves once the sink's count came back (and matched). */
function tcpCopy(label: string, port: number, bytes: number): Promise<void> {
  const chunk = randomFillSync(Buffer.alloc(TCP_CHUNK_BYTES));
  return within(deadlineMs(bytes), label, new Promise<void>((resolve, reject) => {
    let sent = 0;
    let answer = '';
    const stopTicker = ticker(label, bytes, () => sent);
    const socket = connect({ host: '127.0.0.1', port });
    const pump = (): void => {
      while (sent < bytes) {
        const part = chunk.subarray(0, Math.min(chunk.length, bytes - sent));
        sent += part.length;
        if (!socket.write(part)) return void socket.once('drain', pump);
      }
      socket.end();
    };
    socket.once('connect', pump);
    socket.setEncoding('utf8');
    socket.on('data', (s: string) => (answer += s));
    socket.once('end', () => {
      stopTicker();
      if (Number(answer) === bytes) resolve();
      else reject(new Error(`${label}: the sink counted "${answer}" of ${bytes} bytes`));
    });
    socket.once('error', (err) => {
      stopTicker();
      reject(new Error(`${label}: ${err.message}`));
    });
  }));
}

/** A connection to the echo at `port`: 64 bytes out, time until they are all back. */
async function echoConnection(port: number): Promise<{ roundTrip(): Promise<number>; close(): void }> {
  const socket: Socket = connect({ host: '127.0.0.1', port });
  await within(30_000, 'echo connection', once(socket, 'connect'));
  socket.setNoDelay(true);
  let received = 0;
  let expected = 0;
  let waiter: { wake(): void; fail(err: Error): void } | null = null;
  socket.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (waiter && received >= expected) {
      const { wake } = waiter;
      waiter = null;
      wake();
    }
  });
  socket.on('error', (err) => waiter?.fail(err));
  socket.on('close', () => waiter?.fail(new Error('the echo connection closed')));
  return {
    roundTrip: async () => {
      expected += RTT_PAYLOAD.length;
      const t0 = performance.now();
      await new Promise<void>((wake, fail) => {
        waiter = { wake, fail };
        socket.write(RTT_PAYLOAD);
      });
      return performance.now() - t0;
    },
    close: () => socket.destroy(),
  };
}

/** Milliseconds from a new connection to `port` to its first 64-byte echo back. */
async function firstEcho(port: number): Promise<number> {
  const t0 = performance.now();
  const connection = await echoConnection(port);
  try {
    await connection.roundTrip();
    return performance.now() - t0;
  } finally {
    connection.close();
  }
}

/**
 * Resident growth of the backend and the agent (pids, in that order) while a file of `bytes` goes
 * up and comes back down: the highest sample of each direction above the level just before.
 */
async function bigTransfer(run: { io: CopyIo; target: ApiTarget; deviceId: string; pids: number[]; local: string; root: string; bytes: number }): Promise<{ backendGrowthMB: number; agentGrowthMB: number }> {
  const { io, target, deviceId, pids, bytes } = run;
  const source = join(run.local, 'big.bin');
  const remote = join(run.root, 'big.bin');
  const downloaded = join(run.local, 'big-downloaded.bin');
  const label = `${Math.round(bytes / MB)} MB`;
  try {
    writeRandomFile(source, bytes);
    const sha256 = await sha256Of(source);
    const part = uploadPartPath(deviceId, source, remote);
    const base = pids.map(rssBytes);
    const growthMB = (peaks: number[], i: number) => ((peaks[i] ?? NaN) - (base[i] ?? NaN)) / MB;

    const stopUp = sampleRss(pids);
    const up = await measured(pids, () => watchArrival(`${label} upload`, part, bytes), async () => {
      await within(deadlineMs(bytes), `${label} upload`, uploadFile(io, target, deviceId, source, remote, COPY));
    });
    const upPeaks = stopUp();
    if ((await sha256Of(remote)) !== sha256) throw new Error(`the ${label} file on the device is not the source`);
    rmSync(source);

    const stopDown = sampleRss(pids);
    const down = await measured(pids, () => watchArrival(`${label} download`, downloadPartPath(downloaded), bytes), async () => {
      await within(deadlineMs(bytes), `${label} download`, downloadFile(io, target, deviceId, remote, downloaded, COPY));
    });
    const downPeaks = stopDown();
    if ((await sha256Of(downloaded)) !== sha256) throw new Error(`the ${label} download is not the source`);

    process.stderr.write(`  ${label} up in ${round(up.seconds)} s, down in ${round(down.seconds)} s; resident growth up: backend ${round(growthMB(upPeaks, 0))} MB, agent ${round(growthMB(upPeaks, 1))} MB; down: backend ${round(growthMB(downPeaks, 0))} MB, agent ${round(growthMB(downPeaks, 1))} MB\n`);
    return { backendGrowthMB: Math.max(growthMB(upPeaks, 0), growthMB(downPeaks, 0)), agentGrowthMB: Math.max(growthMB(upPeaks, 1), growthMB(downPeaks, 1)) };
  } finally {
    for (const file of [source, remote, downloaded, downloadPartPath(downloaded)]) rmSync(file, { force: true });
  }
}

/**
 * `transfer`: file transfer and TCP forwarding through a real backend and a real agent on
 * loopback, each against a baseline measured in the same run (the machine is shared: the ratios
 * are what compares across runs).
 *
 * - `uploadMBps` / `downloadMBps`: a TRANSFER_MB file (default 256) up to and down from the device
 *   with `tether cp`'s own functions (cli/file-copy.ts) over the public API, timed as the user
 *   waits (the client's hash first, the device's commit with fsync, or the download's hash and
 *   fsync, included), SHA-256 of each copy checked against the source. Baseline
 *   `rawRelayUploadMBps` / `rawRelayDownloadMBps`: the same bytes from the same disk over a plain
 *   wss relay (bench/raw-ws-echo.ts) to a plain wss peer that writes them to disk and fsyncs
 *   (bench/raw-wss-file-peer.ts), each in its own process like the backend and the agent: two TLS
 *   hops, no sealing, framing, hashing or acks. `…StreamMBps`: first to last byte landing on the
 *   receiving disk (sampled every 50 ms), so what is stream and what is hashing/commit shows.
 *   Each is the best of ROUNDS (downloads: DOWNLOAD_ROUNDS). The agent remembers the hash of a file
 *   it sent while the file is unchanged, so a repeat download skips its hashing; a first download
 *   of a file at rest is hashed as it is sent (the CLI reads the hash from a trailer); a file
 *   changed in the last 2 s is read whole to hash it before its first byte. The download rounds
 *   cycle through the three: a copy of the file made before the uploads' end (at rest), a copy made
 *   just before the download, and a file sent before. `downloadHashLastMBps` / `downloadHashLastRatio`
 *   count only first downloads of a file at rest, `downloadHashedMBps` / `downloadHashedRatio` only
 *   those the agent read whole first, and `downloadMBps` is the best of all.
 * - `forwardMBps`: TRANSFER_MB through `tether forward` (the CLI, spawned) to a TCP sink on the
 *   device's loopback, until the sink's byte count came back over the half-closed connection;
 *   `directMBps` the same straight to the sink.
 * - `forwardRttP99Ms`: 1,000 sequential 64-byte round trips through the forward to a TCP echo on
 *   the device's loopback, alternating with the same round trip straight to the echo
 *   (`directRttP99Ms`), so both see the same moments of the machine. `forwardConnectP50Ms`: a new
 *   connection until its first echo came back (each is a new forward), against direct.
 * - `peakBackendRssGrowthMB` / `peakAgentRssGrowthMB`: highest resident set (/proc, every 50 ms)
 *   above the level before a TRANSFER_BIG_MB file (default 1024) went up and came back down.
 */
export async function transfer(): Promise<Record<string, number>> {
  const sizeMB = Number(process.env.TRANSFER_MB ?? 256);
  const bigMB = Number(process.env.TRANSFER_BIG_MB ?? 1024);
  const size = sizeMB * MB;
  const bigSize = bigMB * MB;
  const children: ChildProcess[] = [];
  const local = tempDir('bench-transfer-local');
  const root = tempDir('bench-transfer-device');
  const config = tempDir('bench-transfer-cli');
  const backend = await startBackend();
  let agent: Awaited<ReturnType<typeof enrolAndRun>> | null = null;
  try {
    const admin = await login(backend);
    agent = await enrolAndRun(backend, admin, 'bench-transfer', { TETHER_FILE_ROOTS: root, TETHER_TELEMETRY_INTERVAL_MS: '5000' });
    const { deviceId } = agent;
    const agentProc = agent.proc;
    const pids = [backend.proc.child.pid ?? 0, agent.proc.child.pid ?? 0];
    const withClient = [process.pid, ...pids];
    const target = { url: backend.url, caCertPem: backend.caCertPem, token: admin };
    const io: CopyIo = { stderr: process.stderr, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };

    // ── upload and download against the raw relay ──
    const source = join(local, 'source.bin');
    writeRandomFile(source, size);
    const sha256 = await sha256Of(source);
    // A file at rest, as most files copied are: `tether cp` reads it once, hashing it as it goes.
    await atRest(source);
    const remote = join(root, 'uploaded.bin');
    const uploadPart = uploadPartPath(deviceId, source, remote);
    const peer = await startHelper('raw-wss-file-peer.ts', [backend.home], children);
    const relay = await startHelper('raw-ws-echo.ts', [backend.home, peer.line], children);
    const relayPids = [process.pid, relay.child.pid ?? 0, peer.child.pid ?? 0];
    const rawRemote = join(root, 'raw-uploaded.bin');
    const rawLocal = join(local, 'raw-downloaded.bin');
    const downloaded = join(local, 'downloaded.bin');

    const uploads: CopyRun[] = [];
    const rawUploads: CopyRun[] = [];
    const downloads: CopyRun[] = [];
    /** The downloads for which the agent read the whole file to hash it first (it remembers the hash of a settled, unchanged file). */
    const hashedDownloads: CopyRun[] = [];
    /** The first downloads of a file at rest: the agent hashed it as it sent it. */
    const hashLastDownloads: CopyRun[] = [];
    const rawDownloads: CopyRun[] = [];
    const tetherUpload = async (): Promise<void> => {
      rmSync(remote, { force: true });
      uploads.push(await measured(withClient, () => watchArrival('upload', uploadPart, size), async () => {
        await within(deadlineMs(size), 'upload', uploadFile(io, target, deviceId, source, remote, COPY));
      }));
      if ((await sha256Of(remote)) !== sha256) throw new Error('the uploaded file on the device is not the source');
    };
    const rawRelayUpload = async (): Promise<void> => {
      rmSync(rawRemote, { force: true });
      rawUploads.push(await measured(relayPids, () => watchArrival('raw relay upload', rawRemote, size), () => within(deadlineMs(size), 'raw relay upload', rawUpload(relay.line, backend.caCertPem, source, rawRemote))));
      if (statSync(rawRemote).size !== size) throw new Error('the raw relay upload is short');
    };
    /** A copy of the uploaded file just made (a new inode): the agent has no hash of it and reads it whole first. */
    const freshRemote = join(root, 'fresh.bin');
    /** Copies made before the download rounds, one per round that downloads one: at rest by then, and new to the agent. */
    const restingCopies = Array.from({ length: DOWNLOAD_ROUNDS / 3 }, (_, i) => join(root, `at-rest-${i}.bin`));
    let downloadRound = 0;
    const tetherDownload = async (): Promise<void> => {
      rmSync(downloaded, { force: true });
      const kind = downloadRound % 3;
      const from = kind === 0 ? (restingCopies[Math.floor(downloadRound / 3)] ?? remote) : kind === 1 ? freshRemote : remote;
      if (from === freshRemote) {
        rmSync(freshRemote, { force: true });
        copyFileSync(remote, freshRemote);
      }
      const logFrom = agentProc.json().length;
      const run = await measured(withClient, () => watchArrival('download', downloadPartPath(downloaded), size), async () => {
        await within(deadlineMs(size), 'download', downloadFile(io, target, deviceId, from, downloaded, COPY));
      });
      downloads.push(run);
      const opened = agentProc.json().slice(logFrom).find((e) => e.msg === 'download opened');
      if (opened?.hashRead === true) hashedDownloads.push(run);
      if (opened?.hashLast === true) hashLastDownloads.push(run);
      if ((await sha256Of(downloaded)) !== sha256) throw new Error('the downloaded file is not the source');
    };
    const rawRelayDownload = async (): Promise<void> => {
      rmSync(rawLocal, { force: true });
      rawDownloads.push(await measured(relayPids, () => watchArrival('raw relay download', rawLocal, size), () => within(deadlineMs(size), 'raw relay download', rawDownload(relay.line, backend.caCertPem, remote, rawLocal))));
      if (statSync(rawLocal).size !== size) throw new Error('the raw relay download is short');
    };
    // Baseline and Tether alternate which goes first, so neither always meets the machine warmer.
    for (let i = 0; i < ROUNDS; i++) {
      for (const step of i % 2 === 0 ? [rawRelayUpload, tetherUpload] : [tetherUpload, rawRelayUpload]) await step();
    }
    for (const copy of restingCopies) copyFileSync(remote, copy);
    // The agent hashes a file as it sends it only once the file is at rest.
    for (const copy of restingCopies) await atRest(copy);
    for (downloadRound = 0; downloadRound < DOWNLOAD_ROUNDS; downloadRound++) {
      for (const step of downloadRound % 2 === 0 ? [rawRelayDownload, tetherDownload] : [tetherDownload, rawRelayDownload]) await step();
    }
    for (const file of [rawRemote, rawLocal, downloaded, freshRemote, ...restingCopies]) rmSync(file, { force: true });
    for (const child of [relay.child, peer.child]) child.kill();
    const upload = best(uploads);
    const rawUploadRun = best(rawUploads);
    const download = best(downloads);
    // The downloads of fresh copies always read the file: the agent had no hash of them.
    const hashedDownload = best(hashedDownloads);
    const hashLastDownload = best(hashLastDownloads);
    const rawDownloadRun = best(rawDownloads);

    // ── forwards against direct loopback ──
    const services = await startHelper('loopback-services.ts', [], children);
    const ports = z.object({ sink: z.number(), echo: z.number() }).parse(JSON.parse(services.line));
    await tetherLogin(backend, config, children);
    const sinkForward = await tetherForward(config, deviceId, ports.sink, children);
    const echoForward = await tetherForward(config, deviceId, ports.echo, children);
    const forwardCopies: CopyRun[] = [];
    const directCopies: CopyRun[] = [];
    const noWatch = () => () => NaN;
    const forwardCopy = async () => void forwardCopies.push(await measured([sinkForward.pid, ...pids], noWatch, () => tcpCopy('forward', sinkForward.port, size)));
    const directCopy = async () => void directCopies.push(await measured([process.pid], noWatch, () => tcpCopy('direct', ports.sink, size)));
    for (let i = 0; i < ROUNDS; i++) {
      for (const step of i % 2 === 0 ? [directCopy, forwardCopy] : [forwardCopy, directCopy]) await step();
    }
    const forwarded = await echoConnection(echoForward.port);
    const direct = await echoConnection(ports.echo);
    const forwardRtts: number[] = [];
    const directRtts: number[] = [];
    await within(deadlineMs(0) * 2, 'echo round trips', (async () => {
      for (let i = 0; i < RTT_WARMUP + RTT_SAMPLES; i++) {
        const viaForward = await forwarded.roundTrip();
        const straight = await direct.roundTrip();
        if (i < RTT_WARMUP) continue;
        forwardRtts.push(viaForward);
        directRtts.push(straight);
      }
    })());
    forwarded.close();
    direct.close();
    forwardRtts.sort((a, b) => a - b);
    directRtts.sort((a, b) => a - b);
    const forwardConnects: number[] = [];
    const directConnects: number[] = [];
    await within(deadlineMs(0) * 2, 'connections', (async () => {
      for (let i = 0; i < CONNECT_SAMPLES; i++) {
        forwardConnects.push(await firstEcho(echoForward.port));
        directConnects.push(await firstEcho(ports.echo));
      }
    })());
    forwardConnects.sort((a, b) => a - b);
    directConnects.sort((a, b) => a - b);

    const { backendGrowthMB, agentGrowthMB } = await bigTransfer({ io, target, deviceId, pids, local, root, bytes: bigSize });

    const mbps = (seconds: number) => round(sizeMB / seconds);
    const msPerMB = (run: CopyRun, from = 0, to = run.cpu.length) => round((run.cpu.slice(from, to).reduce((a, b) => a + b, 0) * 1000) / sizeMB);
    const forward = best(forwardCopies);
    const directRun = best(directCopies);
    for (const [label, run, names] of [
      ['upload', upload, ['client', 'backend', 'agent']],
      ['raw relay upload', rawUploadRun, ['client', 'relay', 'peer']],
      ['download', download, ['client', 'backend', 'agent']],
      ['raw relay download', rawDownloadRun, ['client', 'relay', 'peer']],
      ['forward', forward, ['tether forward', 'backend', 'agent']],
    ] as const) {
      process.stderr.write(`  CPU ms per MB, ${label}: ${names.map((name, i) => `${name} ${msPerMB(run, i, i + 1)}`).join(', ')}\n`);
    }
    const forwardMBps = mbps(forward.seconds);
    const directMBps = mbps(directRun.seconds);
    const forwardRttP99Ms = percentile(forwardRtts, 99);
    const directRttP99Ms = percentile(directRtts, 99);
    return {
      sizeMB,
      uploadMBps: mbps(upload.seconds),
      rawRelayUploadMBps: mbps(rawUploadRun.seconds),
      uploadRatio: round(rawUploadRun.seconds / upload.seconds),
      downloadMBps: mbps(download.seconds),
      rawRelayDownloadMBps: mbps(rawDownloadRun.seconds),
      downloadRatio: round(rawDownloadRun.seconds / download.seconds),
      // The same, counting only downloads whose agent read the whole file to hash it before the first byte.
      downloadHashedMBps: mbps(hashedDownload.seconds),
      downloadHashedRatio: round(rawDownloadRun.seconds / hashedDownload.seconds),
      downloadHashLastMBps: mbps(hashLastDownload.seconds),
      downloadHashLastRatio: round(rawDownloadRun.seconds / hashLastDownload.seconds),
      uploadStreamMBps: mbps(upload.streamSeconds),
      rawRelayUploadStreamMBps: mbps(rawUploadRun.streamSeconds),
      downloadStreamMBps: mbps(download.streamSeconds),
      rawRelayDownloadStreamMBps: mbps(rawDownloadRun.streamSeconds),
      // CPU per MB moved, whatever the load: every process on the way (client included), and the backend and agent alone.
      uploadCpuMsPerMB: msPerMB(upload),
      uploadBackendCpuMsPerMB: msPerMB(upload, 1, 2),
      uploadAgentCpuMsPerMB: msPerMB(upload, 2, 3),
      rawRelayUploadCpuMsPerMB: msPerMB(rawUploadRun),
      downloadCpuMsPerMB: msPerMB(download),
      downloadBackendCpuMsPerMB: msPerMB(download, 1, 2),
      downloadAgentCpuMsPerMB: msPerMB(download, 2, 3),
      rawRelayDownloadCpuMsPerMB: msPerMB(rawDownloadRun),
      forwardMBps,
      directMBps,
      forwardRatio: round(forwardMBps / directMBps),
      forwardCpuMsPerMB: msPerMB(forward),
      forwardBackendCpuMsPerMB: msPerMB(forward, 1, 2),
      forwardAgentCpuMsPerMB: msPerMB(forward, 2, 3),
      forwardRttP50Ms: round(percentile(forwardRtts, 50)),
      forwardRttP99Ms: round(forwardRttP99Ms),
      directRttP50Ms: round(percentile(directRtts, 50)),
      directRttP99Ms: round(directRttP99Ms),
      forwardRttRatio: round(forwardRttP99Ms / directRttP99Ms),
      forwardConnectP50Ms: round(percentile(forwardConnects, 50)),
      directConnectP50Ms: round(percentile(directConnects, 50)),
      bigMB,
      peakBackendRssGrowthMB: round(backendGrowthMB),
      peakAgentRssGrowthMB: round(agentGrowthMB),
    };
  } finally {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
    await agent?.proc.stop();
    await backend.stop();
    cleanup(backend.home, local, root, config, ...(agent ? [agent.stateDir] : []));
  }
}
