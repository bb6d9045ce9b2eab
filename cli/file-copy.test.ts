import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTestCa } from '../channel/test-pki.js';
import { downloadFile, downloadPartPath, parseRemote, uploadTransferId } from './file-copy.js';
import { FILE_SHA256_HEADER, FILE_SIZE_HEADER, TransferId } from '../protocol/index.js';

describe('tether cp arguments', () => {
  it('reads DEVICE:/path as remote and anything else as local', () => {
    expect(parseRemote('robot-1:/var/log/syslog')).toEqual({ device: 'robot-1', path: '/var/log/syslog' });
    expect(parseRemote('dev_abcdefghijklmnopqrst:/tmp/a:b')).toEqual({ device: 'dev_abcdefghijklmnopqrst', path: '/tmp/a:b' });
    expect(parseRemote('./robot:/x')).toBeNull();
    expect(parseRemote('/home/me/file:1')).toBeNull();
    expect(parseRemote('plain.txt')).toBeNull();
    expect(() => parseRemote('robot:relative/path')).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
  });

  it('names an upload by device, path and content, so the same copy resumes', () => {
    const id = uploadTransferId('dev_x', '/tmp/a', 'f'.repeat(64), 10);
    expect(TransferId.safeParse(id).success).toBe(true);
    expect(uploadTransferId('dev_x', '/tmp/a', 'f'.repeat(64), 10)).toBe(id);
    // The console derives the same id with Web Crypto (renderer/files/files-store.test.ts).
    expect(id).toBe('69da6b1cac6f93c6a47935cba189efec');
    expect(uploadTransferId('dev_x', '/tmp/b', 'f'.repeat(64), 10)).not.toBe(id);
    expect(uploadTransferId('dev_x', '/tmp/a', 'e'.repeat(64), 10)).not.toBe(id);
    expect(downloadPartPath('/home/me/a.bin')).toBe('/home/me/a.bin.tether-part');
  });
});

describe('tether cp download', () => {
  it('resumes, asking for the hash first, when the SHA-256 trailer was lost on the way (a proxy that drops trailers)', async () => {
    // A stand-in for the backend behind such a proxy: the real backend sends its trailers.
    const ca = await createTestCa();
    const leaf = await ca.issue('backend', { ipAddresses: ['127.0.0.1'] });
    const data = randomBytes(300_000);
    const sha256 = createHash('sha256').update(data).digest('hex');
    const seen: IncomingHttpHeaders[] = [];
    const server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
      seen.push(req.headers);
      if (req.headers.te === 'trailers') {
        res.writeHead(200, { [FILE_SIZE_HEADER]: String(data.length), trailer: FILE_SHA256_HEADER });
        res.end(data);
      } else {
        res.writeHead(206, { [FILE_SIZE_HEADER]: String(data.length), [FILE_SHA256_HEADER]: sha256, 'content-range': `bytes */${data.length}`, 'content-length': '0' });
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const dir = mkdtempSync(join(tmpdir(), 'tether-cp-'));
    try {
      const target = { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, caCertPem: ca.certPem, token: 't' };
      const report = await downloadFile({ stderr: process.stderr, sleep: async () => undefined }, target, 'dev_x', '/data/f.bin', join(dir, 'f.bin'), { json: true, retries: 2 });
      expect(report).toMatchObject({ sha256, size: data.length, attempts: 2 });
      expect(readFileSync(join(dir, 'f.bin')).equals(data)).toBe(true);
      expect(seen.map((h) => [h.te, h.range])).toEqual([['trailers', undefined], [undefined, `bytes=${data.length}-`]]);
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
