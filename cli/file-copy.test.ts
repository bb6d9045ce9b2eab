import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTestCa } from '../channel/test-pki.js';
import { downloadFile, downloadPartPath, parseRemote, uploadFile, uploadTransferId } from './file-copy.js';
import { FILE_SETTLED_MS, FILE_SHA256_HEADER, FILE_SIZE_HEADER, TransferId } from '../protocol/index.js';

describe('tether cp arguments', () => {
  it('reads DEVICE:/path as remote and anything else as local', () => {
    expect(parseRemote('robot-1:/var/log/syslog')).toEqual({ device: 'robot-1', path: '/var/log/syslog' });
    expect(parseRemote('dev_abcdefghijklmnopqrst:/tmp/a:b')).toEqual({ device: 'dev_abcdefghijklmnopqrst', path: '/tmp/a:b' });
    expect(parseRemote('./robot:/x')).toBeNull();
    expect(parseRemote('/home/me/file:1')).toBeNull();
    expect(parseRemote('plain.txt')).toBeNull();
    expect(() => parseRemote('robot:relative/path')).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
  });

  it('names an upload by device, path and the local file, so the same copy resumes', () => {
    const file = { name: 'a.bin', size: 10, modifiedAtMs: 1_700_000_000_000.75 };
    const id = uploadTransferId('dev_x', '/tmp/a', file);
    expect(TransferId.safeParse(id).success).toBe(true);
    // The console derives the same id with Web Crypto from File.lastModified, whole milliseconds (renderer/files/files-store.test.ts).
    expect(id).toBe('e85765d70a0f4b8e4e9c2b919dbe939d');
    expect(uploadTransferId('dev_x', '/tmp/b', file)).not.toBe(id);
    expect(uploadTransferId('dev_x', '/tmp/a', { ...file, size: 11 })).not.toBe(id);
    expect(uploadTransferId('dev_x', '/tmp/a', { ...file, modifiedAtMs: 1_700_000_000_001 })).not.toBe(id);
    expect(uploadTransferId('dev_x', '/tmp/a', { ...file, name: 'b.bin' })).not.toBe(id);
    expect(downloadPartPath('/home/me/a.bin')).toBe('/home/me/a.bin.tether-part');
  });
});

/**
 * A stand-in for the backend, on 127.0.0.1 with a certificate of a test CA, for what the real
 * one does not do (drop a trailer) or to see exactly what cp sends. The integration tests
 * (test/integration/files-cli.test.ts) run cp against the real backend and agent.
 */
async function withServer(handle: (req: IncomingMessage, res: ServerResponse) => void, run: (target: { url: string; caCertPem: string; token: string }, dir: string) => Promise<void>): Promise<void> {
  const ca = await createTestCa();
  const leaf = await ca.issue('backend', { ipAddresses: ['127.0.0.1'] });
  const server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const dir = mkdtempSync(join(tmpdir(), 'tether-cp-'));
  try {
    await run({ url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, caCertPem: ca.certPem, token: 't' }, dir);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const io = { stderr: process.stderr, sleep: async () => undefined };
const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Writes a local file and waits until it is at rest (its change time cannot be set back), so cp hashes it while sending it. */
async function restingFile(path: string, data: Buffer): Promise<void> {
  writeFileSync(path, data);
  await new Promise((r) => setTimeout(r, FILE_SETTLED_MS + 100));
}

describe('tether cp against a stand-in backend', () => {
  it('download: resumes, asking for the hash first, when the SHA-256 trailer was lost on the way (a proxy that drops trailers)', async () => {
    const data = randomBytes(300_000);
    const seen: IncomingHttpHeaders[] = [];
    await withServer((req, res) => {
      seen.push(req.headers);
      if (req.headers.te === 'trailers') {
        res.writeHead(200, { [FILE_SIZE_HEADER]: String(data.length), trailer: FILE_SHA256_HEADER });
        res.end(data);
      } else {
        res.writeHead(206, { [FILE_SIZE_HEADER]: String(data.length), [FILE_SHA256_HEADER]: sha(data), 'content-range': `bytes */${data.length}`, 'content-length': '0' });
        res.end();
      }
    }, async (target, dir) => {
      const report = await downloadFile(io, target, 'dev_x', '/data/f.bin', join(dir, 'f.bin'), { json: true, retries: 2 });
      expect(report).toMatchObject({ sha256: sha(data), size: data.length, attempts: 2 });
      expect(readFileSync(join(dir, 'f.bin')).equals(data)).toBe(true);
      expect(seen.map((h) => [h.te, h.range])).toEqual([['trailers', undefined], [undefined, `bytes=${data.length}-`]]);
    });
  });

  it('download: a resume asks for the rest of the same version only (If-Range), and takes the whole file when it changed', async () => {
    // Enough that writes to the part file are still in flight when the connection drops.
    const before = randomBytes(24 * 1024 * 1024);
    const after = randomBytes(250_000);
    const seen: IncomingHttpHeaders[] = [];
    await withServer((req, res) => {
      seen.push(req.headers);
      if (seen.length === 1) {
        // Half of the first version, then the connection drops (the device reported FILE_CHANGED).
        res.writeHead(200, { [FILE_SIZE_HEADER]: String(before.length), etag: '"v1"', trailer: FILE_SHA256_HEADER });
        res.write(before.subarray(0, 16 * 1024 * 1024), () => res.destroy());
        return;
      }
      // If-Range names the first version, which is gone: 200 and the new one whole.
      res.writeHead(200, { [FILE_SIZE_HEADER]: String(after.length), etag: '"v2"', [FILE_SHA256_HEADER]: sha(after), 'content-length': String(after.length) });
      res.end(after);
    }, async (target, dir) => {
      const report = await downloadFile(io, target, 'dev_x', '/data/f.bin', join(dir, 'f.bin'), { json: true, retries: 2 });
      expect(report).toMatchObject({ sha256: sha(after), size: after.length, attempts: 2 });
      expect(readFileSync(join(dir, 'f.bin')).equals(after)).toBe(true);
      expect(seen.map((h) => [h.range, h['if-range']])).toEqual([[undefined, undefined], [`bytes=${16 * 1024 * 1024}-`, '"v1"']]);
    });
  });

  /** Answers the upload status with `offset` and takes the PUT, calling `onBody` with the first chunk. */
  const uploadServer = (offset: number, puts: Array<{ url: string; headers: IncomingHttpHeaders; body: Buffer; trailers: NodeJS.Dict<string> } | { url: string; cut: true }>, onBody: () => void = () => undefined) => (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'GET') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ offset }));
    const chunks: Buffer[] = [];
    req.once('data', onBody);
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('aborted', () => puts.push({ url: req.url ?? '', cut: true }));
    req.on('end', () => {
      puts.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks), trailers: req.trailers });
      const sha256 = req.trailers[FILE_SHA256_HEADER] ?? new URL(req.url ?? '', 'https://x').searchParams.get('sha256');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ path: '/data/f.bin', size: 1, sha256 }));
    });
  };

  it('upload: a file at rest is read once, its SHA-256 a trailer of a chunked body, what the device holds hashed first', async () => {
    const data = randomBytes(500_000);
    const puts: Parameters<typeof uploadServer>[1] = [];
    await withServer(uploadServer(1000, puts), async (target, dir) => {
      await restingFile(join(dir, 'f.bin'), data);
      const report = await uploadFile(io, target, 'dev_x', join(dir, 'f.bin'), '/data/f.bin', { json: true, retries: 0 });
      expect(report).toMatchObject({ sha256: sha(data), resumedFrom: 1000 });
    });
    const [put] = puts;
    if (!put || 'cut' in put) throw new Error(`no complete upload: ${JSON.stringify(puts)}`);
    expect(new URL(put.url, 'https://x').searchParams.has('sha256')).toBe(false);
    expect(put.headers).toMatchObject({ 'transfer-encoding': 'chunked', trailer: FILE_SHA256_HEADER });
    expect(put.body.equals(data.subarray(1000))).toBe(true);
    expect(put.trailers[FILE_SHA256_HEADER]).toBe(sha(data));
  });

  it('upload: a file just written is hashed first, its SHA-256 in the query', async () => {
    const data = randomBytes(50_000);
    const puts: Parameters<typeof uploadServer>[1] = [];
    await withServer(uploadServer(0, puts), async (target, dir) => {
      writeFileSync(join(dir, 'f.bin'), data);
      expect(await uploadFile(io, target, 'dev_x', join(dir, 'f.bin'), '/data/f.bin', { json: true, retries: 0 })).toMatchObject({ sha256: sha(data) });
    });
    const [put] = puts;
    if (!put || 'cut' in put) throw new Error(`no complete upload: ${JSON.stringify(puts)}`);
    expect(new URL(put.url, 'https://x').searchParams.get('sha256')).toBe(sha(data));
    expect(put.headers['content-length']).toBe(String(data.length));
  });

  it('upload: FILE_CHANGED, and no trailer sent, when the file changes while it is sent', async () => {
    let file = '';
    const puts: Parameters<typeof uploadServer>[1] = [];
    await withServer(uploadServer(0, puts, () => appendFileSync(file, 'more')), async (target, dir) => {
      file = join(dir, 'f.bin');
      await restingFile(file, randomBytes(16 * 1024 * 1024));
      await expect(uploadFile(io, target, 'dev_x', file, '/data/f.bin', { json: true, retries: 3 })).rejects.toMatchObject({ code: 'FILE_CHANGED' });
      await new Promise((r) => setTimeout(r, 100));
    });
    expect(puts).toEqual([expect.objectContaining({ cut: true })]);
  });
});
