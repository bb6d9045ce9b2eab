import { createHash, type Hash } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, opendir, readdir, rename, statfs, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { RpcPeer } from '../../channel/rpc.js';
import { FlowWindow } from '../../channel/flow-window.js';
import { TetherError } from '../../protocol/errors.js';
import {
  FILE_BACKEND_EVENTS,
  FILE_LIST_MAX_ENTRIES,
  FILE_FRAME_BYTES,
  FILE_SETTLED_MS,
  FILE_WINDOW_HIGH_BYTES,
  FILE_WINDOW_LOW_BYTES,
  type FileEntry,
} from '../../protocol/files.js';
import { AGENT_METHODS, type AgentMethod, type AgentParams, type AgentResult } from '../../protocol/methods.js';
import { fileError, type FileRoots } from './file-roots.js';

export interface FileTransfersOptions {
  /** The roots in force now (agent settings can change them). */
  roots(): FileRoots;
  /** Sends file bytes on the control channel; false when it is down. */
  send(streamId: number, data: Uint8Array): boolean;
  log: Logger;
  /** Uploads and downloads open at once. */
  maxTransfers?: number;
  /** How long before its hashing a file must have last changed for its hash to be remembered (tests shorten it). */
  hashSettledMs?: number;
}

export const DEFAULT_MAX_TRANSFERS = 16;
/** A part file nobody resumed for this long is removed when another upload opens in its directory. */
export const STALE_PART_MS = 7 * 24 * 3600_000;
/** Directory entries looked at per sweep: a huge directory costs a bounded scan. */
const SWEEP_MAX_ENTRIES = 10_000;
const PART_FILE = /^\..*\.tether-[A-Za-z0-9_-]{8,64}\.part$/;
/** Downloaded files whose SHA-256 is remembered (by real path), while their inode, size and times stay the same. */
const HASH_CACHE_ENTRIES = 256;

interface Upload {
  transferId: string;
  requested: string;
  real: string;
  part: string;
  fd: FileHandle;
  hash: Hash;
  /** Bytes in the part file (the resumed offset included). */
  written: number;
  mode?: number;
  uid?: number;
  gid?: number;
  /** Received, not yet written: bounded by the backend's window. */
  queue: Buffer[];
  writing: Promise<void> | null;
  error: TetherError | null;
  closed: boolean;
}

interface Download {
  fd: FileHandle;
  real: string;
  position: number;
  size: number;
  /** Set when the file is hashed as it is sent (`hashLast`): the hash of the bytes before `position`. */
  hash: Hash | null;
  /** The file as it was opened, to tell whether it changed while sent. */
  stamp: FileStamp;
  window: FlowWindow;
  wake: (() => void) | null;
  closed: boolean;
}

/** What tells a file's versions apart: device, inode, size, modification and change times; and its last change, in ns. */
interface FileStamp {
  key: string;
  changedNs: bigint;
}

async function stampOf(fd: FileHandle): Promise<FileStamp> {
  const { dev, ino, size, mtimeNs, ctimeNs } = await fd.stat({ bigint: true });
  return { key: `${dev}:${ino}:${size}:${mtimeNs}:${ctimeNs}`, changedNs: mtimeNs > ctimeNs ? mtimeNs : ctimeNs };
}

/** A strong HTTP entity tag (quoted) for the version `stamp` names, without showing its inode or device numbers. */
function etagOf(stamp: FileStamp): string {
  return `"${createHash('sha256').update(stamp.key).digest('base64url').slice(0, 27)}"`;
}

function parse<M extends AgentMethod>(method: M, params: unknown): AgentParams<M> {
  const parsed = AGENT_METHODS[method].params.safeParse(params);
  if (!parsed.success) throw new TetherError('BAD_REQUEST', `${method}: ${parsed.error.issues[0]?.message ?? 'bad params'}`);
  return parsed.data as AgentParams<M>;
}

function isMissing(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && err.code === 'ENOENT';
}

/** The hidden part file an upload writes before its rename: beside the target, named for the transfer. */
export function partFileName(name: string, transferId: string): string {
  // A file name is at most 255 bytes: the target's name is shortened, the transfer id kept whole.
  return `.${name.slice(0, 120)}.tether-${transferId}.part`;
}

/**
 * File transfer on the device: listing, uploads written to a part file that is hashed, fsynced and
 * renamed into place only when its SHA-256 matches, and downloads read from disk under a
 * {@link FlowWindow} so a slow client never makes the agent read ahead. Transfers belong to a control
 * connection: when it drops they stop, and an upload's part file stays for the resume.
 */
export class FileTransfers {
  private readonly uploads = new Map<number, Upload>();
  private readonly downloads = new Map<number, Download>();
  /** Part files of uploads being opened or open: one upload per part file at a time. */
  private readonly busyParts = new Set<string>();
  /** Part file → the closing upload still writing what it received: a resume waits for it. */
  private readonly closing = new Map<string, Promise<void>>();
  private readonly hashes = new LRUCache<string, { stamp: string; sha256: string }>({ max: HASH_CACHE_ENTRIES });
  private rpc: RpcPeer | null = null;
  /** Bytes read to hash downloads before their first byte (what remembered hashes save). */
  hashedBytes = 0;

  constructor(private readonly opts: FileTransfersOptions) {}

  get size(): number {
    return this.uploads.size + this.downloads.size;
  }

  register(rpc: RpcPeer): void {
    this.rpc = rpc;
    rpc.handle('file.list', (p) => this.list(parse('file.list', p)));
    rpc.handle('file.upload.status', (p) => this.uploadStatus(parse('file.upload.status', p)));
    rpc.handle('file.upload.open', (p) => this.uploadOpen(parse('file.upload.open', p)));
    rpc.handle('file.upload.commit', (p) => this.uploadCommit(parse('file.upload.commit', p)));
    rpc.handle('file.upload.close', (p) => ({ closed: this.uploadClose(parse('file.upload.close', p).streamId) }));
    rpc.handle('file.download.open', (p) => this.downloadOpen(parse('file.download.open', p)));
    rpc.handle('file.download.close', (p) => ({ closed: this.downloadClose(parse('file.download.close', p).streamId) }));
    rpc.onEvent((name, data) => {
      if (name !== 'file.ack') return;
      const ack = FILE_BACKEND_EVENTS['file.ack'].safeParse(data);
      if (ack.success) this.ack(ack.data.streamId, ack.data.bytes);
    });
  }

  /** Bytes from the backend; false when the stream is not an upload of ours. */
  onStream(streamId: number, data: Buffer): boolean {
    const upload = this.uploads.get(streamId);
    if (!upload) return false;
    if (upload.error || upload.closed) return true;
    upload.queue.push(data);
    this.pump(streamId, upload);
    return true;
  }

  /** The control connection dropped: every transfer stops; part files stay for a resume. */
  onDisconnected(): void {
    this.rpc = null;
    for (const id of [...this.uploads.keys()]) this.uploadClose(id);
    for (const id of [...this.downloads.keys()]) this.downloadClose(id);
  }

  async list(params: AgentParams<'file.list'>): Promise<AgentResult<'file.list'>> {
    const dir = await this.opts.roots().existing(params.path);
    const stat = await lstat(dir.real).catch((err: unknown) => {
      throw fileError(err, dir.requested);
    });
    if (!stat.isDirectory()) throw new TetherError('NOT_A_DIRECTORY', `${dir.requested} is not a directory`);
    let names: string[];
    try {
      names = (await readdir(dir.real)).sort();
    } catch (err) {
      throw fileError(err, dir.requested);
    }
    const entries: FileEntry[] = [];
    for (const name of names.slice(0, FILE_LIST_MAX_ENTRIES)) {
      try {
        const s = await lstat(join(dir.real, name));
        const type = s.isFile() ? 'file' : s.isDirectory() ? 'directory' : s.isSymbolicLink() ? 'symlink' : 'other';
        entries.push({ name, type, size: s.size, mode: s.mode & 0o7777, modifiedAt: s.mtimeMs });
      } catch {
        // Gone between readdir and lstat.
      }
    }
    return { path: dir.real, entries, truncated: names.length > FILE_LIST_MAX_ENTRIES };
  }

  async uploadStatus(params: AgentParams<'file.upload.status'>): Promise<AgentResult<'file.upload.status'>> {
    const target = await this.opts.roots().forWrite(params.path);
    const part = join(target.directory, partFileName(target.name, params.transferId));
    await this.closing.get(part);
    try {
      const stat = await lstat(part);
      return { offset: stat.isFile() ? stat.size : 0 };
    } catch (err) {
      if (isMissing(err)) return { offset: 0 };
      throw fileError(err, params.path);
    }
  }

  async uploadOpen(params: AgentParams<'file.upload.open'>): Promise<AgentResult<'file.upload.open'>> {
    if (this.uploads.has(params.streamId) || this.downloads.has(params.streamId)) throw new TetherError('CONFLICT', 'The stream already has a transfer');
    if (this.size >= (this.opts.maxTransfers ?? DEFAULT_MAX_TRANSFERS)) throw new TetherError('RATE_LIMITED', 'Too many file transfers on this device');
    const target = await this.opts.roots().forWrite(params.path);
    const part = join(target.directory, partFileName(target.name, params.transferId));
    await this.closing.get(part);
    // Checked and taken in one step (no await between): two opens of one transfer cannot both pass.
    if (this.busyParts.has(part)) throw new TetherError('TRANSFER_BUSY');
    this.busyParts.add(part);
    try {
      return await this.openPart(params, target, part);
    } catch (err) {
      this.busyParts.delete(part);
      throw err;
    }
  }

  private async openPart(params: AgentParams<'file.upload.open'>, target: Awaited<ReturnType<FileRoots['forWrite']>>, part: string): Promise<AgentResult<'file.upload.open'>> {
    const free = await statfs(target.directory).then((s) => s.bavail * s.bsize, () => Number.POSITIVE_INFINITY);
    if (params.size - params.offset > free) throw new TetherError('NO_SPACE', `The file needs ${params.size - params.offset} bytes; ${free} are free`);
    if (params.offset > 0) {
      // Resuming needs a part file: none is created just to refuse the offset.
      const held = await lstat(part).then((s) => s.size, (err: unknown) => (isMissing(err) ? 0 : Promise.reject(fileError(err, params.path))));
      if (params.offset > held) throw new TetherError('TRANSFER_OFFSET', `The device holds ${held} bytes of this upload, not ${params.offset}`);
    }
    let fd: FileHandle;
    try {
      // Created with the umask's default mode; O_NOFOLLOW: a symlink planted at the part's name is refused.
      fd = await open(part, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o666);
    } catch (err) {
      throw fileError(err, params.path);
    }
    try {
      const stat = await fd.stat();
      if (!stat.isFile()) throw new TetherError('NOT_A_REGULAR_FILE', 'The part file is not a regular file');
      if (params.offset > stat.size) throw new TetherError('TRANSFER_OFFSET', `The device holds ${stat.size} bytes of this upload, not ${params.offset}`);
      const hash = createHash('sha256');
      await hashRange(fd, 0, params.offset, hash);
      await fd.truncate(params.offset);
      this.uploads.set(params.streamId, {
        transferId: params.transferId, requested: target.requested, real: target.real, part, fd, hash, written: params.offset,
        mode: params.mode, uid: params.uid, gid: params.gid, queue: [], writing: null, error: null, closed: false,
      });
    } catch (err) {
      await fd.close().catch(() => undefined);
      throw fileError(err, params.path);
    }
    this.opts.log.info({ streamId: params.streamId, path: target.real, offset: params.offset, size: params.size }, 'upload opened');
    void this.sweepStaleParts(target.directory);
    return { offset: params.offset };
  }

  async uploadCommit(params: AgentParams<'file.upload.commit'>): Promise<AgentResult<'file.upload.commit'>> {
    const upload = this.uploads.get(params.streamId);
    if (!upload || upload.closed) throw new TetherError('TRANSFER_UNKNOWN');
    await this.drained(upload);
    if (upload.error) {
      this.forget(params.streamId, upload);
      throw upload.error;
    }
    const sha256 = upload.hash.copy().digest('hex');
    if (upload.written !== params.size || sha256 !== params.sha256) {
      await this.discard(params.streamId, upload);
      throw new TetherError('CHECKSUM_MISMATCH', upload.written !== params.size
        ? `The device received ${upload.written} bytes, not ${params.size}; nothing was written`
        : `The device computed SHA-256 ${sha256}, not ${params.sha256}; nothing was written`);
    }
    try {
      if (upload.mode !== undefined) await upload.fd.chmod(upload.mode);
      if (upload.uid !== undefined || upload.gid !== undefined) await upload.fd.chown(upload.uid ?? -1, upload.gid ?? -1);
      await upload.fd.sync();
      // Checked again just before the rename: a symlink or FIFO that appeared meanwhile is not replaced.
      const now = await lstat(upload.real).catch((err: unknown) => (isMissing(err) ? null : Promise.reject(err)));
      if (now && !now.isFile()) throw new TetherError('NOT_A_REGULAR_FILE', `${upload.requested} is no longer a regular file`);
      await rename(upload.part, upload.real);
      await upload.fd.close();
      this.forget(params.streamId, upload);
      await syncDirectory(join(upload.real, '..'));
    } catch (err) {
      await this.discard(params.streamId, upload);
      throw fileError(err, upload.requested);
    }
    this.opts.log.info({ streamId: params.streamId, path: upload.real, size: upload.written }, 'upload committed');
    return { path: upload.requested, size: upload.written, sha256 };
  }

  uploadClose(streamId: number): boolean {
    const upload = this.uploads.get(streamId);
    if (!upload) return false;
    this.forget(streamId, upload);
    upload.closed = true;
    // Bytes already received are still written: the part file then holds all the backend sent.
    const closed = this.drained(upload).finally(() => upload.fd.close().catch(() => undefined));
    this.closing.set(upload.part, closed);
    void closed.finally(() => {
      if (this.closing.get(upload.part) === closed) this.closing.delete(upload.part);
    });
    return true;
  }

  async downloadOpen(params: AgentParams<'file.download.open'>): Promise<AgentResult<'file.download.open'>> {
    if (this.uploads.has(params.streamId) || this.downloads.has(params.streamId)) throw new TetherError('CONFLICT', 'The stream already has a transfer');
    if (this.size >= (this.opts.maxTransfers ?? DEFAULT_MAX_TRANSFERS)) throw new TetherError('RATE_LIMITED', 'Too many file transfers on this device');
    const file = await this.opts.roots().existing(params.path);
    let fd: FileHandle;
    try {
      // Checked before opening: opening a FIFO for reading would wait for a writer.
      const before = await lstat(file.real);
      if (!before.isFile()) throw new TetherError('NOT_A_REGULAR_FILE', `${file.requested} is not a regular file`);
      fd = await open(file.real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (err) {
      throw fileError(err, file.requested);
    }
    try {
      const stat = await fd.stat();
      if (!stat.isFile()) throw new TetherError('NOT_A_REGULAR_FILE', `${file.requested} is not a regular file`);
      const stamp = await stampOf(fd);
      const etag = etagOf(stamp);
      // The client's first part came from another version of the file: it gets this one whole.
      const offset = params.ifRange !== undefined && params.ifRange !== etag ? 0 : params.offset;
      if (offset > stat.size) throw new TetherError('RANGE_NOT_SATISFIABLE', `The file has ${stat.size} bytes`);
      const known = this.hashes.get(file.real);
      let sha256 = known?.stamp === stamp.key ? known.sha256 : undefined;
      let hash: Hash | null = null;
      const hashFirst = sha256 === undefined && !(params.hashLast && this.settled(stamp));
      if (hashFirst) sha256 = await this.sha256Of(fd, file.real, stat.size, stamp);
      else if (sha256 === undefined) {
        // Hashed as it is sent: only what comes before the offset is read for it now.
        hash = createHash('sha256');
        await hashRange(fd, 0, offset, hash);
        this.hashedBytes += offset;
      }
      const download: Download = {
        fd, real: file.real, position: offset, size: stat.size, hash, stamp, window: new FlowWindow(FILE_WINDOW_HIGH_BYTES, FILE_WINDOW_LOW_BYTES), wake: null, closed: false,
      };
      this.downloads.set(params.streamId, download);
      // After the answer has gone out: the backend hears the size (and hash) before the first byte.
      setImmediate(() => void this.send(params.streamId, download));
      this.opts.log.info({ streamId: params.streamId, path: file.real, offset, size: stat.size, hashRead: hashFirst, hashLast: hash !== null }, 'download opened');
      return { path: file.requested, size: stat.size, ...(sha256 === undefined ? {} : { sha256 }), mode: stat.mode & 0o7777, modifiedAt: stat.mtimeMs, etag, offset };
    } catch (err) {
      await fd.close().catch(() => undefined);
      throw fileError(err, file.requested);
    }
  }

  /**
   * The SHA-256 a download announces before its first byte, read whole, and remembered so that an
   * earlier download of the unchanged file (same device, inode, size, modification and change
   * times) answers at once next time: a resumed download of a large file on a slow device then
   * starts without reading the file again first. Were a file ever changed unseen, the client's
   * check of the bytes against this hash would refuse the download; nothing wrong is saved.
   */
  private async sha256Of(fd: FileHandle, real: string, size: number, stamp: FileStamp): Promise<string> {
    const startedNs = BigInt(Date.now()) * 1_000_000n;
    const hash = createHash('sha256');
    await hashRange(fd, 0, size, hash);
    this.hashedBytes += size;
    const sha256 = hash.digest('hex');
    if (this.settled(stamp, startedNs)) this.hashes.set(real, { stamp: stamp.key, sha256 });
    return sha256;
  }

  /**
   * Whether the file last changed long enough before `atNs` that a change after it would show in
   * its times, whatever its file system's timestamp granularity (FAT's is 2 s).
   */
  private settled(stamp: FileStamp, atNs = BigInt(Date.now()) * 1_000_000n): boolean {
    return atNs - stamp.changedNs >= BigInt(this.opts.hashSettledMs ?? FILE_SETTLED_MS) * 1_000_000n;
  }

  downloadClose(streamId: number): boolean {
    const download = this.downloads.get(streamId);
    if (!download) return false;
    this.downloads.delete(streamId);
    download.closed = true;
    download.wake?.();
    return true;
  }

  private ack(streamId: number, bytes: number): void {
    const download = this.downloads.get(streamId);
    if (download?.window.acked(bytes)) download.wake?.();
  }

  private async send(streamId: number, download: Download): Promise<void> {
    let error: TetherError | undefined;
    let sha256: string | undefined;
    const start = download.position;
    // One buffer for the whole download: sending copies the bytes into a sealed frame.
    const buffer = Buffer.allocUnsafe(FILE_FRAME_BYTES);
    try {
      while (!download.closed && download.position < download.size) {
        if (download.window.paused) {
          await new Promise<void>((resolve) => (download.wake = resolve));
          download.wake = null;
          continue;
        }
        const length = Math.min(buffer.length, download.size - download.position);
        const { bytesRead } = await download.fd.read(buffer, 0, length, download.position);
        if (bytesRead === 0) throw new TetherError('FILE_CHANGED', 'The file shrank on the device while it was sent; download it again');
        download.hash?.update(buffer.subarray(0, bytesRead));
        if (!this.opts.send(streamId, buffer.subarray(0, bytesRead))) {
          download.closed = true;
          break;
        }
        download.position += bytesRead;
        download.window.sent(bytesRead);
      }
      if (download.hash && !download.closed) sha256 = await this.hashSent(download, download.hash);
    } catch (err) {
      error = fileError(err, 'download');
    } finally {
      await download.fd.close().catch(() => undefined);
      this.downloads.delete(streamId);
    }
    if (download.closed && !error) return;
    this.rpc?.emit('file.download.end', { streamId, bytes: download.position - start, ...(sha256 ? { sha256 } : {}), ...(error ? { error: { code: error.code, message: error.message } } : {}) });
  }

  /**
   * The SHA-256 of a file hashed as it was sent, once it is known not to have changed meanwhile
   * (else what was sent may mix two versions: FILE_CHANGED). Remembered like a hash read first.
   */
  private async hashSent(download: Download, hash: Hash): Promise<string> {
    const now = await stampOf(download.fd);
    if (now.key !== download.stamp.key) throw new TetherError('FILE_CHANGED', 'The file changed on the device while it was sent; download it again');
    const sha256 = hash.digest('hex');
    this.hashes.set(download.real, { stamp: download.stamp.key, sha256 });
    return sha256;
  }

  /** Writes what is queued, one write at a time, and credits the backend for it. */
  private pump(streamId: number, upload: Upload): void {
    if (upload.writing || upload.queue.length === 0 || upload.error) return;
    const batch = upload.queue.splice(0);
    upload.writing = (async () => {
      const bytes = await writeAll(upload.fd, batch, upload.written);
      for (const chunk of batch) upload.hash.update(chunk);
      upload.written += bytes;
      if (!upload.closed) this.rpc?.emit('file.written', { streamId, bytes });
    })()
      .catch(async (err: unknown) => {
        upload.error = fileError(err, upload.requested);
        upload.queue.length = 0;
        this.opts.log.warn({ streamId, path: upload.real, code: upload.error.code }, 'upload failed');
        // No partial file is left behind (a full disk is freed at once).
        await upload.fd.close().catch(() => undefined);
        await unlink(upload.part).catch(() => undefined);
        if (!upload.closed) this.rpc?.emit('file.failed', { streamId, error: { code: upload.error.code, message: upload.error.message } });
      })
      .finally(() => {
        upload.writing = null;
        this.pump(streamId, upload);
      });
  }

  /** Removes part files of uploads abandoned long ago in `directory` (never one that is open). */
  async sweepStaleParts(directory: string, now = Date.now()): Promise<number> {
    const open = new Set([...this.busyParts, ...this.closing.keys()]);
    let removed = 0;
    let seen = 0;
    try {
      for await (const entry of await opendir(directory)) {
        if (++seen > SWEEP_MAX_ENTRIES) break;
        if (!entry.isFile() || !PART_FILE.test(entry.name)) continue;
        const path = join(directory, entry.name);
        if (open.has(path)) continue;
        const stat = await lstat(path).catch(() => null);
        if (stat && now - stat.mtimeMs > STALE_PART_MS && (await unlink(path).then(() => true, () => false))) removed++;
      }
    } catch (err) {
      this.opts.log.debug({ err, directory }, 'part file sweep failed');
    }
    if (removed > 0) this.opts.log.info({ directory, removed }, 'stale part files removed');
    return removed;
  }

  private async drained(upload: Upload): Promise<void> {
    while (upload.writing) await upload.writing;
  }

  private forget(streamId: number, upload: Upload): void {
    this.uploads.delete(streamId);
    this.busyParts.delete(upload.part);
  }

  private async discard(streamId: number, upload: Upload): Promise<void> {
    this.forget(streamId, upload);
    upload.closed = true;
    await upload.fd.close().catch(() => undefined);
    await unlink(upload.part).catch(() => undefined);
  }
}

/** writev until every byte is written: a short write (a file size limit reached) is continued, and the next one reports the error. */
async function writeAll(fd: FileHandle, chunks: Buffer[], position: number): Promise<number> {
  const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  let left = chunks;
  let done = 0;
  while (done < total) {
    const { bytesWritten } = await fd.writev(left, position + done);
    done += bytesWritten;
    let skip = bytesWritten;
    const rest: Buffer[] = [];
    for (const chunk of left) {
      if (skip >= chunk.length) skip -= chunk.length;
      else {
        rest.push(skip > 0 ? chunk.subarray(skip) : chunk);
        skip = 0;
      }
    }
    left = rest;
  }
  return total;
}

async function hashRange(fd: FileHandle, from: number, to: number, hash: Hash): Promise<void> {
  const buffer = Buffer.allocUnsafe(FILE_FRAME_BYTES);
  for (let position = from; position < to;) {
    const { bytesRead } = await fd.read(buffer, 0, Math.min(buffer.length, to - position), position);
    if (bytesRead === 0) throw new TetherError('INTERNAL', 'The file shrank while it was read');
    hash.update(buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  let fd: FileHandle | undefined;
  try {
    fd = await open(dir, 'r');
    await fd.sync();
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic there.
  } finally {
    await fd?.close();
  }
}
