import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { RpcPeer } from '../../channel/rpc.js';
import type { ControlMessage } from '../../protocol/control.js';
import { TetherError } from '../../protocol/errors.js';
import { FILE_WINDOW_HIGH_BYTES } from '../../protocol/files.js';
import { FileRoots } from './file-roots.js';
import { FileTransfers, STALE_PART_MS } from './file-transfers.js';

const root = mkdtempSync(join(tmpdir(), 'tether-transfers-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

function setup(options: { hashSettledMs?: number } = {}) {
  const events: Array<{ name: string; data: Record<string, unknown> }> = [];
  const sent: Buffer[] = [];
  const transfers = new FileTransfers({ roots: () => new FileRoots([root]), send: (_id, data) => (sent.push(Buffer.from(data)), true), log: pino({ level: 'silent' }), ...options });
  const rpc = new RpcPeer({ send: (msg: ControlMessage) => {
    if (msg.type === 'evt') events.push({ name: msg.name, data: msg.data as Record<string, unknown> });
  } });
  transfers.register(rpc);
  const written = (streamId: number) => events.filter((e) => e.name === 'file.written' && e.data.streamId === streamId).reduce((n, e) => n + Number(e.data.bytes), 0);
  /** The backend's credit, as it arrives over the channel. */
  const ack = (streamId: number, bytes: number) => rpc.dispatch({ type: 'evt', name: 'file.ack', data: { streamId, bytes } });
  return { transfers, events, sent, written, ack };
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function feed(transfers: FileTransfers, streamId: number, data: Buffer, chunk = 64 * 1024): void {
  for (let i = 0; i < data.length; i += chunk) expect(transfers.onStream(streamId, data.subarray(i, i + chunk))).toBe(true);
}

/** Acknowledges what a download sent, as the backend would, until its end event. */
async function drain(streamId: number, events: Array<{ name: string; data: Record<string, unknown> }>, sent: Buffer[], ack: (streamId: number, bytes: number) => void): Promise<void> {
  let acked = 0;
  for (let i = 0; i < 2000 && !events.some((e) => e.name === 'file.download.end' && e.data.streamId === streamId); i++) {
    const total = sent.reduce((n, b) => n + b.length, 0);
    if (total > acked) ack(streamId, total - acked);
    acked = total;
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (err) {
    return err instanceof TetherError ? err.code : String(err);
  }
}

describe('FileTransfers', () => {
  it('writes an upload to a part file and renames it into place once size and SHA-256 match', async () => {
    const { transfers, written } = setup();
    const data = randomBytes(1024 * 1024 + 7);
    const path = join(root, 'up.bin');
    expect(await transfers.uploadOpen({ streamId: 1, path, transferId: 'upload-one', offset: 0, size: data.length })).toEqual({ offset: 0 });
    feed(transfers, 1, data);
    await until(() => written(1) === data.length, 'every byte written and credited');
    expect(existsSync(path)).toBe(false);
    expect(await transfers.uploadCommit({ streamId: 1, size: data.length, sha256: sha(data) })).toEqual({ path, size: data.length, sha256: sha(data) });
    expect(readFileSync(path).equals(data)).toBe(true);
    expect(readdirSync(root).filter((n) => n.endsWith('.part'))).toEqual([]);
    expect(transfers.onStream(1, Buffer.from('late'))).toBe(false);
  });

  it('resumes from the part file an interrupted upload left, re-hashing what it holds', async () => {
    const { transfers, written } = setup();
    const data = randomBytes(600_000);
    const path = join(root, 'resumed.bin');
    await transfers.uploadOpen({ streamId: 2, path, transferId: 'upload-resumed', offset: 0, size: data.length });
    feed(transfers, 2, data.subarray(0, 250_000));
    await until(() => written(2) === 250_000, 'the first part written');
    transfers.onDisconnected();
    const { offset } = await transfers.uploadStatus({ path, transferId: 'upload-resumed' });
    expect(offset).toBe(250_000);
    expect(await codeOf(transfers.uploadOpen({ streamId: 3, path, transferId: 'upload-resumed', offset: offset + 1, size: data.length }))).toBe('TRANSFER_OFFSET');
    await transfers.uploadOpen({ streamId: 4, path, transferId: 'upload-resumed', offset, size: data.length });
    feed(transfers, 4, data.subarray(offset));
    expect(await transfers.uploadCommit({ streamId: 4, size: data.length, sha256: sha(data) })).toMatchObject({ sha256: sha(data) });
    expect(readFileSync(path).equals(data)).toBe(true);
  });

  it('keeps nothing when the SHA-256 or the size does not match', async () => {
    const { transfers } = setup();
    const data = randomBytes(10_000);
    const path = join(root, 'bad.bin');
    await transfers.uploadOpen({ streamId: 5, path, transferId: 'upload-bad-hash', offset: 0, size: data.length });
    feed(transfers, 5, data);
    expect(await codeOf(transfers.uploadCommit({ streamId: 5, size: data.length, sha256: 'a'.repeat(64) }))).toBe('CHECKSUM_MISMATCH');
    await transfers.uploadOpen({ streamId: 6, path, transferId: 'upload-bad-size', offset: 0, size: data.length + 1 });
    feed(transfers, 6, data);
    expect(await codeOf(transfers.uploadCommit({ streamId: 6, size: data.length + 1, sha256: sha(data) }))).toBe('CHECKSUM_MISMATCH');
    expect(existsSync(path)).toBe(false);
    expect(readdirSync(root).filter((n) => n.includes('upload-bad'))).toEqual([]);
    expect(await codeOf(transfers.uploadCommit({ streamId: 6, size: 1, sha256: sha(data) }))).toBe('TRANSFER_UNKNOWN');
  });

  it('refuses a second upload of the same transfer while the first runs', async () => {
    const { transfers } = setup();
    const path = join(root, 'busy.bin');
    await transfers.uploadOpen({ streamId: 7, path, transferId: 'upload-busy', offset: 0, size: 10 });
    expect(await codeOf(transfers.uploadOpen({ streamId: 8, path, transferId: 'upload-busy', offset: 0, size: 10 }))).toBe('TRANSFER_BUSY');
    // Two opens at once: exactly one gets the part file.
    const racing = await Promise.all([20, 21].map((streamId) => codeOf(transfers.uploadOpen({ streamId, path, transferId: 'upload-race', offset: 0, size: 10 }))));
    expect(racing.sort()).toEqual(['TRANSFER_BUSY', 'ok']);
    transfers.onDisconnected();
    // Closed: the transfer can be opened again, and resumes what the part file holds.
    expect(await transfers.uploadOpen({ streamId: 22, path, transferId: 'upload-race', offset: 0, size: 10 })).toEqual({ offset: 0 });
    transfers.onDisconnected();
  });

  it('sends a download no further than the window ahead of the acks, then ends it', async () => {
    const { transfers, events, sent, ack } = setup();
    const data = randomBytes(3 * FILE_WINDOW_HIGH_BYTES + 12345);
    const path = join(root, 'down.bin');
    writeFileSync(path, data);
    const opened = await transfers.downloadOpen({ streamId: 9, path, offset: 0 });
    expect(opened).toMatchObject({ path, size: data.length, sha256: sha(data) });
    const total = () => sent.reduce((n, b) => n + b.length, 0);
    await until(() => total() >= FILE_WINDOW_HIGH_BYTES, 'a window of bytes');
    await new Promise((r) => setTimeout(r, 50));
    // Paused at the high-water mark: one read past it at most.
    expect(total()).toBeLessThan(FILE_WINDOW_HIGH_BYTES + 256 * 1024 + 1);
    let acked = 0;
    while (!events.some((e) => e.name === 'file.download.end')) {
      if (total() > acked) ack(9, total() - acked);
      acked = total();
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(Buffer.concat(sent).equals(data)).toBe(true);
    expect(events.find((e) => e.name === 'file.download.end')?.data).toEqual({ streamId: 9, bytes: data.length });
  });

  it('remembers a downloaded file\'s hash while the file is unchanged, and only once it had settled', async () => {
    const path = join(root, 'hashed.bin');
    const first = randomBytes(300_000);
    writeFileSync(path, first);
    const open = async (transfers: FileTransfers, streamId: number, offset = 0) => {
      const opened = await transfers.downloadOpen({ streamId, path, offset });
      transfers.downloadClose(streamId);
      return opened.sha256;
    };
    // Just written: hashed every time, since a change within the file system's time granularity would not show.
    const fresh = setup();
    expect(await open(fresh.transfers, 1)).toBe(sha(first));
    expect(await open(fresh.transfers, 2)).toBe(sha(first));
    expect(fresh.transfers.hashedBytes).toBe(2 * first.length);

    const { transfers } = setup({ hashSettledMs: 0 });
    expect(await open(transfers, 1)).toBe(sha(first));
    // A resume (another offset) and a repeat read nothing before their first byte.
    expect(await open(transfers, 2, 1000)).toBe(sha(first));
    expect(await open(transfers, 3)).toBe(sha(first));
    expect(transfers.hashedBytes).toBe(first.length);
    // Rewritten with as many bytes: its times changed, so it is hashed again.
    const second = randomBytes(first.length);
    writeFileSync(path, second);
    expect(await open(transfers, 4)).toBe(sha(second));
    expect(transfers.hashedBytes).toBe(2 * first.length);
  });

  it('hashes a settled file while sending it when asked (hashLast): the hash comes after the last byte, the file is read once', async () => {
    const { transfers, events, sent, ack } = setup({ hashSettledMs: 0 });
    const path = join(root, 'hash-last.bin');
    const data = randomBytes(2 * FILE_WINDOW_HIGH_BYTES + 777);
    writeFileSync(path, data);
    const download = async (streamId: number, offset: number) => {
      sent.length = 0;
      const opened = await transfers.downloadOpen({ streamId, path, offset, hashLast: true });
      await drain(streamId, events, sent, ack);
      return { opened, end: events.find((e) => e.name === 'file.download.end' && e.data.streamId === streamId)?.data };
    };
    const first = await download(1, 0);
    expect(first.opened.sha256).toBeUndefined();
    expect(Buffer.concat(sent).equals(data)).toBe(true);
    expect(first.end).toEqual({ streamId: 1, bytes: data.length, sha256: sha(data) });
    expect(transfers.hashedBytes).toBe(0);
    // Remembered like a hash read first: the next download announces it at once.
    expect((await download(2, 0)).opened.sha256).toBe(sha(data));
    // Changed: a resume hashes only what comes before its offset, then the rest as it goes.
    const changed = randomBytes(data.length);
    writeFileSync(path, changed);
    const resumed = await download(3, 1000);
    expect(resumed.opened.sha256).toBeUndefined();
    expect(resumed.end).toEqual({ streamId: 3, bytes: changed.length - 1000, sha256: sha(changed) });
    expect(transfers.hashedBytes).toBe(1000);
  });

  it('hashes a file that changed just now before its first byte, even when asked to hash it last', async () => {
    const { transfers } = setup();
    const path = join(root, 'just-written.bin');
    const data = randomBytes(10_000);
    writeFileSync(path, data);
    expect((await transfers.downloadOpen({ streamId: 1, path, offset: 0, hashLast: true })).sha256).toBe(sha(data));
    transfers.downloadClose(1);
  });

  it('ends a download hashed last with FILE_CHANGED, and no hash, when the file changed while it was sent', async () => {
    const { transfers, events, sent, ack } = setup({ hashSettledMs: 0 });
    const path = join(root, 'changing.bin');
    const data = randomBytes(3 * FILE_WINDOW_HIGH_BYTES);
    writeFileSync(path, data);
    await transfers.downloadOpen({ streamId: 7, path, offset: 0, hashLast: true });
    // Paused at the window: the rest of the file changes (same size) before it is read.
    await until(() => sent.reduce((n, b) => n + b.length, 0) >= FILE_WINDOW_HIGH_BYTES, 'a window of bytes');
    await new Promise((r) => setTimeout(r, 20));
    writeFileSync(path, randomBytes(data.length));
    await drain(7, events, sent, ack);
    const end = events.find((e) => e.name === 'file.download.end')?.data;
    expect(end).toMatchObject({ streamId: 7, bytes: data.length, error: { code: 'FILE_CHANGED' } });
    expect(end).not.toHaveProperty('sha256');
  });

  it('names a file\'s version with an etag, and sends the file whole to a resume of another version (If-Range)', async () => {
    const { transfers, events, sent, ack } = setup();
    const path = join(root, 'if-range.bin');
    const data = randomBytes(100_000);
    writeFileSync(path, data);
    const download = async (streamId: number, offset: number, ifRange?: string) => {
      sent.length = 0;
      const opened = await transfers.downloadOpen({ streamId, path, offset, ...(ifRange === undefined ? {} : { ifRange }) });
      await drain(streamId, events, sent, ack);
      return { opened, bytes: Buffer.concat(sent) };
    };
    const first = await download(1, 0);
    expect(first.opened.etag).toMatch(/^"[\w-]{27}"$/);
    expect(first.opened.offset).toBe(0);
    // The same version: the rest of it.
    const same = await download(2, 60_000, first.opened.etag);
    expect(same.opened).toMatchObject({ etag: first.opened.etag, offset: 60_000 });
    expect(same.bytes.equals(data.subarray(60_000))).toBe(true);
    // Rewritten with as many bytes (another inode): the whole file, from 0, under a new etag.
    const changed = randomBytes(data.length);
    writeFileSync(`${path}.new`, changed);
    renameSync(`${path}.new`, path);
    const whole = await download(3, 60_000, first.opened.etag);
    expect(whole.opened.offset).toBe(0);
    expect(whole.opened.etag).not.toBe(first.opened.etag);
    expect(whole.bytes.equals(changed)).toBe(true);
    // A stale validator past the new end is not refused as a range: the file comes whole too.
    writeFileSync(path, changed.subarray(0, 10));
    expect((await download(4, 50_000, whole.opened.etag)).bytes.equals(changed.subarray(0, 10))).toBe(true);
  });

  it('removes part files abandoned for a week, never an open one or another file', async () => {
    const { transfers } = setup();
    const dir = join(root, 'sweep');
    mkdirSync(dir);
    const old = (Date.now() - STALE_PART_MS - 60_000) / 1000;
    for (const name of ['.a.bin.tether-abandoned-1.part', '.b.bin.tether-abandoned-2.part', 'keep.part', '.c.tether-x.part']) {
      writeFileSync(join(dir, name), 'x');
      utimesSync(join(dir, name), old, old);
    }
    writeFileSync(join(dir, '.fresh.bin.tether-recent-01.part'), 'x');
    await transfers.uploadOpen({ streamId: 12, path: join(dir, 'b.bin'), transferId: 'abandoned-2', offset: 1, size: 2 });
    await new Promise((r) => setTimeout(r, 50));
    expect(readdirSync(dir).sort()).toEqual(['.b.bin.tether-abandoned-2.part', '.c.tether-x.part', '.fresh.bin.tether-recent-01.part', 'keep.part']);
    transfers.onDisconnected();
  });

  it('refuses a download of a directory, and a range beyond the end', async () => {
    const { transfers } = setup();
    expect(await codeOf(transfers.downloadOpen({ streamId: 10, path: root, offset: 0 }))).toBe('NOT_A_REGULAR_FILE');
    writeFileSync(join(root, 'small.txt'), 'abc');
    expect(await codeOf(transfers.downloadOpen({ streamId: 11, path: join(root, 'small.txt'), offset: 4 }))).toBe('RANGE_NOT_SATISFIABLE');
  });
});
