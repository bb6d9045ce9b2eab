import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, statSync, type Stats } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { basename, join, resolve } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SingleBar } from 'cli-progress';
import { FILE_SETTLED_MS, FILE_SHA256_HEADER, FILE_SIZE_HEADER, FileResult, UPLOAD_TRANSFER_ID_CHARS, UploadStatus, headerListHas, uploadTransferSeed } from '../protocol/index.js';
import type { ApiTarget } from './api-client.js';
import { CliError } from './cli-error.js';

/** `DEVICE:PATH`: a device id or name (no `/`), a colon, an absolute device path. Anything else is a local path. */
export interface RemoteSpec {
  device: string;
  path: string;
}

export function parseRemote(arg: string): RemoteSpec | null {
  const match = /^([^/:]+):(.*)$/.exec(arg);
  if (!match) return null;
  const [, device = '', path = ''] = match;
  if (!path.startsWith('/')) throw CliError.of('BAD_REQUEST', `${arg}: the device path must be absolute (DEVICE:/path)`);
  return { device, path };
}

/**
 * Names an upload so that running the same copy again resumes it: the device keeps the part file
 * of this id until the upload commits. Made from the local file's name, size and modification
 * time, so it is known before the file is read.
 */
export function uploadTransferId(deviceId: string, path: string, file: { name: string; size: number; modifiedAtMs: number }): string {
  return createHash('sha256').update(uploadTransferSeed(deviceId, path, file)).digest('hex').slice(0, UPLOAD_TRANSFER_ID_CHARS);
}

/** The local part file of a download, beside its destination; a later copy resumes from it. */
export function downloadPartPath(destination: string): string {
  return `${destination}.tether-part`;
}

export interface CopyIo {
  stderr: NodeJS.WriteStream;
  sleep(ms: number): Promise<void>;
}

export interface CopyOptions {
  json?: boolean;
  /** Octal mode for an upload (default: the agent user's umask). */
  mode?: string;
  /** Attempts after an interruption (device offline, connection lost) before giving up. */
  retries: number;
}

/** What `--json` prints. */
export interface CopyReport {
  direction: 'upload' | 'download';
  deviceId: string;
  path: string;
  local: string;
  size: number;
  sha256: string;
  /** Bytes that were already on the other side from an interrupted copy (0 for a fresh one). */
  resumedFrom: number;
  attempts: number;
}

/**
 * What a download's part file queues for the disk before the response is paused. The response
 * arrives in 16 KB pieces, one per TLS record: with a write stream's default 16 KB queue each piece
 * was its own write, and the socket was paused and resumed around every one of them. With room
 * for a few of the agent's 256 KB frames, pieces pile up behind the write in flight and reach the
 * disk together (one writev), and the socket keeps reading.
 */
export const DOWNLOAD_WRITE_QUEUE_BYTES = 1024 * 1024;

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Errors after which the same copy may succeed by itself: it is resumed, not restarted. */
const RETRYABLE = new Set(['DEVICE_OFFLINE', 'BACKEND_UNREACHABLE', 'REQUEST_TIMEOUT', 'TRANSFER_BUSY', 'GOING_AWAY', 'STORE_UNAVAILABLE']);

/** Hashes bytes `[0, end)` of a file into `hash` (all of it without `end`). */
async function hashFile(path: string, hash: Hash, end?: number): Promise<void> {
  if (end === 0) return;
  for await (const chunk of createReadStream(path, end === undefined ? {} : { end: end - 1 })) hash.update(chunk as Buffer);
}

/** What tells a local file's versions apart, and its last change (ms). */
function stampOf(info: Stats): { key: string; changedMs: number } {
  return { key: `${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`, changedMs: Math.max(info.mtimeMs, info.ctimeMs) };
}

function humanBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** A progress bar on a terminal; nothing otherwise (pipes, --json). */
class Progress {
  private readonly bar: SingleBar | null;

  constructor(io: CopyIo, enabled: boolean, label: string) {
    this.bar = enabled && io.stderr.isTTY
      ? new SingleBar({ stream: io.stderr, format: `${label} {bar} {percentage}% | {done} of {size} | ETA {eta_formatted}`, hideCursor: true, clearOnComplete: false })
      : null;
  }

  start(total: number, done: number): void {
    this.bar?.start(total, done, { done: humanBytes(done), size: humanBytes(total) });
  }

  update(done: number): void {
    this.bar?.update(done, { done: humanBytes(done) });
  }

  stop(): void {
    this.bar?.stop();
  }
}

function errorFrom(res: IncomingMessage, text: string): CliError {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return CliError.fromBody(res.statusCode ?? 0, body);
}

async function readText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 1024 * 1024) throw CliError.of('PAYLOAD_TOO_LARGE', 'The backend answered with an oversized body');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * One HTTPS request with a streamed body or answer. `send` writes the body (and ends the request);
 * an answer that arrives before the body is finished (a refusal) wins over the write error it causes.
 */
function call(target: ApiTarget, method: 'GET' | 'PUT', path: string, headers: Record<string, string>, send?: (req: import('node:http').ClientRequest) => void): Promise<IncomingMessage> {
  const url = new URL(path, target.url);
  return new Promise((resolvePromise, reject) => {
    let answered = false;
    const req = request(url, {
      method,
      ca: target.caCertPem,
      headers: { ...headers, ...(target.token ? { authorization: `Bearer ${target.token}` } : {}) },
    }, (res) => {
      answered = true;
      resolvePromise(res);
    });
    // No answer, no byte either way for this long: the backend or the path to it is gone.
    req.setTimeout(120_000, () => req.destroy(CliError.of('BACKEND_UNREACHABLE', `No answer from ${url.origin} within 120 s`)));
    req.on('error', (err) => {
      if (!answered) reject(err instanceof CliError ? err : CliError.of('BACKEND_UNREACHABLE', `${url.origin}: ${err.message}`));
    });
    if (send) send(req);
    else req.end();
  });
}

async function json<T>(res: IncomingMessage, parse: (value: unknown) => T): Promise<T> {
  const text = await readText(res);
  if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) throw errorFrom(res, text);
  try {
    return parse(JSON.parse(text));
  } catch {
    throw CliError.of('INTERNAL', 'The backend\'s answer has an unexpected shape');
  }
}

/** Runs `attempt` until it succeeds, retrying interruptions with a growing pause (1, 2, 4 … 15 s). */
async function withRetries<T>(io: CopyIo, opts: CopyOptions, attempt: (n: number) => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      const error = CliError.from(err);
      if (!RETRYABLE.has(error.code) || n > opts.retries) throw error;
      const pause = Math.min(15_000, 1000 * 2 ** (n - 1));
      if (!opts.json) io.stderr.write(`tether: ${error.code}: ${error.message}; resuming in ${pause / 1000} s\n`);
      await io.sleep(pause);
    }
  }
}

/**
 * Uploads a local file to `deviceId:remote`, resuming what an earlier, interrupted copy left on the
 * device. The file is read once: hashed while it is sent, its SHA-256 going last as a trailer, and
 * its size and times checked again before that (FILE_CHANGED when they moved: nothing is
 * committed). A file changed in the last FILE_SETTLED_MS is hashed first instead, its hash in the
 * query, since a change within its file system's time granularity would not show.
 */
export async function uploadFile(io: CopyIo, target: ApiTarget, deviceId: string, local: string, remote: string, opts: CopyOptions): Promise<CopyReport> {
  const localPath = resolve(local);
  const info = await stat(localPath).catch(() => null);
  if (!info) throw CliError.of('NOT_FOUND', `${local}: no such file`);
  if (!info.isFile()) throw CliError.of('BAD_REQUEST', `${local}: not a regular file`);
  const path = remote.endsWith('/') ? `${remote}${basename(localPath)}` : remote;
  const size = info.size;
  const stamp = stampOf(info);
  const transfer = uploadTransferId(deviceId, path, { name: basename(localPath), size, modifiedAtMs: info.mtimeMs });
  let hashedFirst: string | undefined;
  if (Date.now() - stamp.changedMs < FILE_SETTLED_MS) {
    const hash = createHash('sha256');
    await hashFile(localPath, hash);
    hashedFirst = hash.digest('hex');
  }
  const base = `/api/v1/devices/${encodeURIComponent(deviceId)}/files`;
  let resumedFrom = -1;
  let attempts = 0;
  const progress = new Progress(io, !opts.json, basename(localPath));
  let result: FileResult;
  try {
    result = await withRetries(io, opts, async (n) => {
      attempts = n;
      const status = await json(await call(target, 'GET', `${base}/upload?${new URLSearchParams({ path, transfer }).toString()}`, { accept: 'application/json' }), (v) => UploadStatus.parse(v));
      const offset = Math.min(status.offset, size);
      if (resumedFrom < 0) resumedFrom = offset;
      const query = new URLSearchParams({ path, transfer, offset: String(offset), size: String(size), ...(hashedFirst ? { sha256: hashedFirst } : {}), ...(opts.mode ? { mode: opts.mode } : {}) });
      // What the device holds is part of the whole file's hash: read that much again here.
      const hash = hashedFirst ? null : createHash('sha256');
      if (hash) await hashFile(localPath, hash, offset);
      progress.start(size, offset);
      let sent = offset;
      const headers: Record<string, string> = hash
        ? { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked', trailer: FILE_SHA256_HEADER, accept: 'application/json' }
        : { 'content-type': 'application/octet-stream', 'content-length': String(size - offset), accept: 'application/json' };
      const res = await call(target, 'PUT', `${base}/content?${query.toString()}`, headers, (req) => {
        const body = createReadStream(localPath, { start: offset });
        body.on('data', (chunk: Buffer | string) => {
          hash?.update(chunk);
          sent += chunk.length;
          progress.update(sent);
        });
        body.on('error', (err) => req.destroy(err));
        if (!hash) return void body.pipe(req);
        body.pipe(req, { end: false });
        body.on('end', () => {
          stat(localPath).then((now) => {
            if (stampOf(now).key !== stamp.key || sent !== size) return req.destroy(CliError.of('FILE_CHANGED', `${local} changed while it was sent; run the copy again`));
            req.addTrailers({ [FILE_SHA256_HEADER]: hash.digest('hex') });
            req.end();
          }, (err: unknown) => req.destroy(err instanceof Error ? err : new Error(String(err))));
        });
      });
      return json(res, (v) => FileResult.parse(v));
    });
  } finally {
    progress.stop();
  }
  return { direction: 'upload', deviceId, path, local: localPath, size, sha256: result.sha256, resumedFrom: Math.max(0, resumedFrom), attempts };
}

/**
 * Downloads `deviceId:remote` to a local file: bytes go to `<file>.tether-part`, which a later copy
 * resumes from (Range: bytes=N-); it is renamed into place only once the whole file's SHA-256
 * matches the device's, and removed when it does not.
 */
export async function downloadFile(io: CopyIo, target: ApiTarget, deviceId: string, remote: string, local: string, opts: CopyOptions): Promise<CopyReport> {
  const name = basename(remote);
  const wanted = resolve(local);
  const destination = local.endsWith('/') || (existsSync(wanted) && statSync(wanted).isDirectory()) ? join(wanted, name) : wanted;
  const part = downloadPartPath(destination);
  const url = `/api/v1/devices/${encodeURIComponent(deviceId)}/files/content?${new URLSearchParams({ path: remote }).toString()}`;
  let resumedFrom = -1;
  let attempts = 0;
  let result: { size: number; sha256: string; local256: string };
  const progress = new Progress(io, !opts.json, name);
  /**
   * Asks for the SHA-256 as a trailer, so that the device can hash the file while sending it
   * instead of reading it whole first. Off after an answer that lost its trailer on the way.
   */
  let trailers = true;
  /** The version of the file this copy's part came from: a resume asks for the rest only of that one (If-Range). */
  let etag: string | undefined;
  try {
    result = await withRetries(io, opts, async (n) => {
      attempts = n;
      let offset = existsSync(part) ? statSync(part).size : 0;
      const te: Record<string, string> = trailers ? { te: 'trailers' } : {};
      let res = await call(target, 'GET', url, offset > 0 ? { ...te, range: `bytes=${offset}-`, ...(etag === undefined ? {} : { 'if-range': etag }) } : te);
      if (res.statusCode === 416) {
        // The part file is longer than the file now is: it belongs to another version. Start over.
        res.resume();
        await rm(part, { force: true });
        offset = 0;
        res = await call(target, 'GET', url, te);
      }
      if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) throw errorFrom(res, await readText(res));
      if (res.statusCode === 200 && offset > 0) {
        // The whole file, not the rest: it changed since the part began (or the server ignores ranges).
        await rm(part, { force: true });
        offset = 0;
      }
      etag = typeof res.headers.etag === 'string' ? res.headers.etag : undefined;
      if (resumedFrom < 0) resumedFrom = offset;
      const size = Number(res.headers[FILE_SIZE_HEADER]);
      const announced = res.headers[FILE_SHA256_HEADER];
      if (!Number.isSafeInteger(size) || (announced !== undefined && !SHA256_HEX.test(String(announced)))) throw CliError.of('INTERNAL', 'The download has no size or a malformed SHA-256 header');
      if (announced === undefined && !headerListHas(res.headers.trailer, FILE_SHA256_HEADER)) throw CliError.of('INTERNAL', 'The download has neither a SHA-256 header nor a SHA-256 trailer');
      // Hashed as it arrives, after what a resumed part file already holds: no second read at the end.
      const hash = createHash('sha256');
      await hashFile(part, hash, offset);
      progress.start(size, offset);
      let done = offset;
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          hash.update(chunk);
          done += chunk.length;
          progress.update(done);
          callback(null, chunk);
        },
      });
      const sink = createWriteStream(part, { flags: 'a', mode: 0o600, highWaterMark: DOWNLOAD_WRITE_QUEUE_BYTES });
      try {
        await pipeline(res, counter, sink);
      } catch (err) {
        // pipeline() gives up before the file's writes in flight have landed: the next attempt
        // measures and appends to the part file only once they have, or they would land in it later.
        if (!sink.closed) await new Promise<void>((resolveClose) => sink.once('close', () => resolveClose()));
        throw CliError.of('BACKEND_UNREACHABLE', `The download was cut at ${done} of ${size} bytes: ${err instanceof Error ? err.message : String(err)}`);
      }
      if (done !== size) throw CliError.of('BACKEND_UNREACHABLE', `The download was cut at ${done} of ${size} bytes`);
      const sha256 = String(announced ?? res.trailers[FILE_SHA256_HEADER] ?? '');
      if (!SHA256_HEX.test(sha256)) {
        // Something between here and the backend dropped the trailer: resume, asking for the hash first.
        trailers = false;
        throw CliError.of('BACKEND_UNREACHABLE', 'The download\'s SHA-256 trailer was lost on the way; asking for the hash first');
      }
      return { size, sha256, local256: hash.digest('hex') };
    });
  } finally {
    progress.stop();
  }
  const { local256 } = result;
  if (local256 !== result.sha256) {
    await rm(part, { force: true });
    throw CliError.of('CHECKSUM_MISMATCH', `${destination}: SHA-256 ${local256} is not the device's ${result.sha256}; nothing was kept`);
  }
  const fd = await open(part, 'r');
  try {
    await fd.sync();
  } finally {
    await fd.close();
  }
  await rename(part, destination);
  return { direction: 'download', deviceId, path: remote, local: destination, size: result.size, sha256: result.sha256, resumedFrom: Math.max(0, resumedFrom), attempts };
}
