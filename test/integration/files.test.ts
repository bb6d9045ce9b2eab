import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditPage } from '../../protocol/index.js';
import { api, cleanup, enrolAndRun, FAST_AGENT_ENV, login, Proc, ROOT, startAgent, startBackend, tempDir, waitFor, deviceOf, type Backend } from '../harness.js';
import { jsonOf, rawCall } from '../file-client.js';
import { parsePrometheusText, sampleValue } from '../prometheus-text.js';

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const MB = 1024 * 1024;

describe('file transfer with a real agent', () => {
  let backend: Backend;
  let admin = '';
  let agent: { proc: Proc; stateDir: string; deviceId: string };
  let root = '';
  const dirs: string[] = [];

  const contentUrl = (path: string, extra: Record<string, string> = {}) => `/api/v1/devices/${agent.deviceId}/files/content?${new URLSearchParams({ path, ...extra }).toString()}`;
  const upload = (path: string, data: Buffer, opts: { offset?: number; transfer?: string; cutAfter?: number; token?: string; sha256?: string; mode?: string; size?: number; deviceId?: string } = {}) => {
    const offset = opts.offset ?? 0;
    const query = new URLSearchParams({ path, transfer: opts.transfer ?? `t-${sha(data).slice(0, 16)}`, offset: String(offset), size: String(opts.size ?? data.length), sha256: opts.sha256 ?? sha(data), ...(opts.mode ? { mode: opts.mode } : {}) });
    return rawCall(backend, 'PUT', `/api/v1/devices/${opts.deviceId ?? agent.deviceId}/files/content?${query.toString()}`, { token: opts.token ?? admin, body: data.subarray(offset), cutAfter: opts.cutAfter });
  };
  const status = async (path: string, transfer: string) => {
    const res = await api(backend, 'GET', `/api/v1/devices/${agent.deviceId}/files/upload?${new URLSearchParams({ path, transfer }).toString()}`, { token: admin });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return (res.body as { offset: number }).offset;
  };
  const leftovers = (dir: string) => readdirSync(dir).filter((name) => name.endsWith('.part'));

  beforeAll(async () => {
    backend = await startBackend();
    admin = await login(backend);
    root = tempDir('files-root');
    dirs.push(root);
    agent = await enrolAndRun(backend, admin, 'files-agent', { TETHER_FILE_ROOTS: root });
  }, 120_000);

  afterAll(async () => {
    await agent.proc.stop();
    await backend.stop();
    cleanup(backend.home, agent.stateDir, ...dirs);
  });

  it('uploads and downloads a 50 MB random file with equal SHA-256, atomically and with the umask mode', async () => {
    const data = randomBytes(50 * MB);
    const path = join(root, 'big.bin');
    const up = await upload(path, data);
    expect(up.status, up.body.toString()).toBe(200);
    expect(jsonOf(up)).toEqual({ path, size: data.length, sha256: sha(data) });
    expect(sha(readFileSync(path))).toBe(sha(data));
    expect(statSync(path).mode & 0o777).toBe(0o666 & ~process.umask());
    expect(leftovers(root)).toEqual([]);

    const down = await rawCall(backend, 'GET', contentUrl(path), { token: admin });
    expect(down.status).toBe(200);
    expect(down.headers['x-tether-sha256']).toBe(sha(data));
    expect(down.headers['x-tether-size']).toBe(String(data.length));
    expect(sha(down.body)).toBe(sha(data));

    const listing = await api(backend, 'GET', `/api/v1/devices/${agent.deviceId}/files?path=${encodeURIComponent(root)}`, { token: admin });
    expect(listing.status).toBe(200);
    expect(listing.body).toMatchObject({ path: root, truncated: false, entries: expect.arrayContaining([expect.objectContaining({ name: 'big.bin', type: 'file', size: data.length })]) });
  });

  it('carries an empty file both ways', async () => {
    const path = join(root, 'empty');
    const up = await upload(path, Buffer.alloc(0));
    expect(up.status, up.body.toString()).toBe(200);
    expect(statSync(path).size).toBe(0);
    const down = await rawCall(backend, 'GET', contentUrl(path), { token: admin });
    expect(down.status).toBe(200);
    expect(down.body.length).toBe(0);
    expect(down.headers['x-tether-sha256']).toBe(sha(Buffer.alloc(0)));
  });

  it('sets the mode asked for', async () => {
    const path = join(root, 'secret.txt');
    const res = await upload(path, Buffer.from('top secret\n'), { mode: '0600' });
    expect(res.status, res.body.toString()).toBe(200);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('resumes an upload the client cut, from the bytes the device holds', async () => {
    const data = randomBytes(24 * MB);
    const path = join(root, 'resumed.bin');
    const transfer = 'resume-client-cut';
    await expect(upload(path, data, { transfer, cutAfter: 12 * MB })).rejects.toThrow();
    // The device writes what reached it; the part file settles once the backend saw the cut.
    let held = 0;
    await waitFor(async () => {
      const now = await status(path, transfer);
      const settled = now === held && now > 0;
      held = now;
      return settled;
    }, 15_000, 'the part file to settle');
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThanOrEqual(12 * MB);
    expect(existsSync(path)).toBe(false);
    const rest = await upload(path, data, { transfer, offset: held });
    expect(rest.status, rest.body.toString()).toBe(200);
    expect(sha(readFileSync(path))).toBe(sha(data));
    expect(leftovers(root)).toEqual([]);
    // Resuming beyond what the device holds is refused.
    const ahead = await upload(join(root, 'ahead.bin'), data, { transfer: 'resume-ahead', offset: 1000 });
    expect(jsonOf(ahead)).toMatchObject({ code: 'TRANSFER_OFFSET' });
  });

  it('resumes an upload after the device connection dropped', async () => {
    const data = randomBytes(40 * MB);
    const path = join(root, 'dropped.bin');
    const transfer = 'resume-device-drop';
    const pending = upload(path, data, { transfer });
    // Kill the agent once part of the file is on its disk.
    const partPath = join(root, `.dropped.bin.tether-${transfer}.part`);
    await waitFor(() => existsSync(partPath) && statSync(partPath).size > 4 * MB, 20_000, 'some bytes on the device');
    await agent.proc.stop('SIGKILL');
    const cut = await pending.catch((err: unknown) => err);
    if (!(cut instanceof Error)) expect((cut as { status: number }).status).toBe(503);
    agent = { ...agent, proc: startAgent(agent.stateDir, { TETHER_FILE_ROOTS: root }, 'files-agent') };
    await waitFor(async () => (await deviceOf(backend, admin, agent.deviceId))?.online === true, 30_000, 'the agent back online');
    const held = await status(path, transfer);
    expect(held).toBeGreaterThan(4 * MB);
    const rest = await upload(path, data, { transfer, offset: held });
    expect(rest.status, rest.body.toString()).toBe(200);
    expect(sha(readFileSync(path))).toBe(sha(data));
  });

  it('resumes a download with Range: bytes=N-, the header hash being the whole file', async () => {
    const data = randomBytes(3 * MB + 17);
    const path = join(root, 'ranged.bin');
    writeFileSync(path, data);
    const res = await rawCall(backend, 'GET', contentUrl(path), { token: admin, headers: { range: `bytes=${MB}-` } });
    expect(res.status).toBe(206);
    expect(res.headers['content-range']).toBe(`bytes ${MB}-${data.length - 1}/${data.length}`);
    expect(res.headers['x-tether-sha256']).toBe(sha(data));
    expect(res.body.equals(data.subarray(MB))).toBe(true);
    const beyond = await rawCall(backend, 'GET', contentUrl(path), { token: admin, headers: { range: `bytes=${data.length + 1}-` } });
    expect(beyond.status).toBe(416);
    expect(jsonOf(beyond)).toMatchObject({ code: 'RANGE_NOT_SATISFIABLE' });
  });

  it('names each version of a file with an ETag: a range of the same version (If-Range) is 206, of another the file whole', async () => {
    const data = randomBytes(2 * MB + 3);
    const path = join(root, 'versions.bin');
    writeFileSync(path, data);
    const first = await rawCall(backend, 'GET', contentUrl(path), { token: admin });
    const etag = String(first.headers.etag);
    expect(etag).toMatch(/^"[\w-]+"$/);
    const same = await rawCall(backend, 'GET', contentUrl(path), { token: admin, headers: { range: `bytes=${MB}-`, 'if-range': etag } });
    expect(same.status).toBe(206);
    expect(same.headers.etag).toBe(etag);
    expect(same.body.equals(data.subarray(MB))).toBe(true);
    // Replaced by another version, shorter than the range's start: no 416, the new file whole.
    const changed = randomBytes(MB - 5);
    writeFileSync(`${path}.new`, changed);
    renameSync(`${path}.new`, path);
    const whole = await rawCall(backend, 'GET', contentUrl(path), { token: admin, headers: { range: `bytes=${MB}-`, 'if-range': etag } });
    expect(whole.status).toBe(200);
    expect(whole.headers['content-range']).toBeUndefined();
    expect(whole.headers['content-length']).toBe(String(changed.length));
    expect(whole.headers.etag).not.toBe(etag);
    expect(whole.headers['x-tether-sha256']).toBe(sha(changed));
    expect(whole.body.equals(changed)).toBe(true);
  });

  it('sends the hash of a file at rest as a trailer to a client that reads trailers, and first to one that does not', async () => {
    const data = randomBytes(3 * MB + 17);
    const path = join(root, 'at-rest.bin');
    writeFileSync(path, data);
    await new Promise((r) => setTimeout(r, 2_100));
    const trailed = await rawCall(backend, 'GET', contentUrl(path), { token: admin, headers: { te: 'trailers' } });
    expect(trailed.status).toBe(200);
    expect(trailed.headers['x-tether-sha256']).toBeUndefined();
    expect(trailed.headers['content-length']).toBeUndefined();
    expect(trailed.headers.trailer).toBe('x-tether-sha256');
    expect(trailed.headers['x-tether-size']).toBe(String(data.length));
    expect(trailed.trailers['x-tether-sha256']).toBe(sha(data));
    expect(trailed.body.equals(data)).toBe(true);
    // Now remembered: announced first, with a length, whatever the client reads.
    for (const headers of [{ te: 'trailers' }, {}] as Array<Record<string, string>>) {
      const again = await rawCall(backend, 'GET', contentUrl(path), { token: admin, headers });
      expect(again.headers['x-tether-sha256']).toBe(sha(data));
      expect(again.headers['content-length']).toBe(String(data.length));
    }
    const audit = await api(backend, 'GET', `/api/v1/audit?action=file.download&limit=5`, { token: admin });
    expect((audit.body as AuditPage).entries.find((e) => (e.details as { path?: string }).path === path)?.details).toMatchObject({ sha256: sha(data), sent: data.length });
  });

  it('ends downloads the client abandons (audited as interrupted), so they never use up the device\'s bound', async () => {
    // Larger than the window, so the device is still sending when the client walks away.
    const path = join(root, 'abandoned.bin');
    writeFileSync(path, randomBytes(16 * MB));
    writeFileSync(join(root, 'small.txt'), 'small');
    for (let i = 0; i < 10; i++) {
      await new Promise<void>((resolve, reject) => {
        const req = request(new URL(contentUrl(path), backend.url), { ca: backend.caCertPem, headers: { authorization: `Bearer ${admin}` } }, (res) => {
          if (res.statusCode !== 200) return reject(new Error(`download answered ${res.statusCode ?? 0}`));
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
        req.end();
      });
    }
    // Past the bound of 8 open transfers per device: the abandoned ones were all ended.
    await waitFor(async () => (await rawCall(backend, 'GET', contentUrl(join(root, 'small.txt')), { token: admin })).status === 200, 10_000, 'a download to be allowed again');
    const open = async () => sampleValue(parsePrometheusText(String((await api(backend, 'GET', '/metrics')).body)), 'tether_file_transfers_open');
    await waitFor(async () => (await open()) === 0, 10_000, 'no transfer open');
    const interrupted = async () => ((await api(backend, 'GET', '/api/v1/audit?action=file.download&limit=1000', { token: admin })).body as AuditPage).entries
      .filter((e) => e.details.path === path && e.details.outcome === 'interrupted').length;
    await waitFor(async () => (await interrupted()) === 10, 10_000, 'ten interrupted downloads audited');
  });

  it('refuses traversal, symlink escapes, other roots and special files with codes, leaving no file', async () => {
    const outside = tempDir('files-outside');
    dirs.push(outside);
    writeFileSync(join(outside, 'private.txt'), 'not yours');
    symlinkSync(outside, join(root, 'escape'));
    symlinkSync(join(outside, 'private.txt'), join(root, 'escape-file'));
    execFileSync('mkfifo', [join(root, 'pipe')]);
    const data = Buffer.from('payload');
    const codeOf = async (p: Promise<{ body: Buffer; status: number }>) => {
      const res = await p;
      return { status: res.status, code: jsonOf(res as Parameters<typeof jsonOf>[0]).code };
    };
    const cases: Array<[string, () => Promise<{ body: Buffer; status: number }>, string, number]> = [
      ['traversal download', () => rawCall(backend, 'GET', contentUrl(`${root}/../${outside.split('/').pop() ?? ''}/private.txt`), { token: admin }), 'PATH_NOT_ALLOWED', 403],
      ['traversal upload', () => upload(`${root}/../dropped-here.txt`, data), 'PATH_NOT_ALLOWED', 403],
      ['symlinked directory download', () => rawCall(backend, 'GET', contentUrl(join(root, 'escape', 'private.txt')), { token: admin }), 'PATH_NOT_ALLOWED', 403],
      ['symlinked file download', () => rawCall(backend, 'GET', contentUrl(join(root, 'escape-file')), { token: admin }), 'PATH_NOT_ALLOWED', 403],
      ['symlinked directory upload', () => upload(join(root, 'escape', 'planted.txt'), data), 'PATH_NOT_ALLOWED', 403],
      ['upload over a symlink', () => upload(join(root, 'escape-file'), data), 'NOT_A_REGULAR_FILE', 422],
      ['another root download', () => rawCall(backend, 'GET', contentUrl('/etc/hostname'), { token: admin }), 'PATH_NOT_ALLOWED', 403],
      ['another root upload', () => upload(join(outside, 'new.txt'), data), 'PATH_NOT_ALLOWED', 403],
      ['another root listing', () => rawCall(backend, 'GET', `/api/v1/devices/${agent.deviceId}/files?path=/etc`, { token: admin }), 'PATH_NOT_ALLOWED', 403],
      ['FIFO download', () => rawCall(backend, 'GET', contentUrl(join(root, 'pipe')), { token: admin }), 'NOT_A_REGULAR_FILE', 422],
      ['upload onto a FIFO', () => upload(join(root, 'pipe'), data), 'NOT_A_REGULAR_FILE', 422],
      ['directory download', () => rawCall(backend, 'GET', contentUrl(root), { token: admin }), 'NOT_A_REGULAR_FILE', 422],
      ['missing file', () => rawCall(backend, 'GET', contentUrl(join(root, 'nothing.txt')), { token: admin }), 'PATH_NOT_FOUND', 404],
      ['wrong checksum', () => upload(join(root, 'corrupt.txt'), data, { sha256: 'f'.repeat(64) }), 'CHECKSUM_MISMATCH', 422],
      ['upload without a SHA-256 (no parameter, no trailer announced)', () => rawCall(backend, 'PUT', `/api/v1/devices/${agent.deviceId}/files/content?${new URLSearchParams({ path: join(root, 'unhashed.txt'), transfer: 't-unhashed-1', size: String(data.length) }).toString()}`, { token: admin, body: data }), 'BAD_REQUEST', 400],
    ];
    // One at a time: the backend bounds the transfers open on one device.
    const results = [];
    for (const [what, call, code, httpStatus] of cases) results.push({ what, got: await codeOf(call()), want: { status: httpStatus, code } });
    for (const { what, got, want } of results) expect(got, what).toEqual(want);
    expect(readFileSync(join(outside, 'private.txt'), 'utf8')).toBe('not yours');
    expect(readdirSync(outside).sort()).toEqual(['private.txt']);
    expect(existsSync(join(root, 'corrupt.txt'))).toBe(false);
    expect(existsSync(join(root, 'unhashed.txt'))).toBe(false);
    expect(existsSync(join(root, '..', 'dropped-here.txt'))).toBe(false);
    expect(leftovers(root), 'part files').toEqual([]);
  });

  it('refuses an upload that fills the device with NO_SPACE and leaves no partial file', async () => {
    // RLIMIT_FSIZE stands in for a full disk: writes past it fail with EFBIG, unprivileged.
    const small = await enrolAndRun(backend, admin, 'files-small', { TETHER_FILE_ROOTS: root });
    await small.proc.stop();
    const limited = new Proc(spawn('sh', ['-c', `ulimit -f 2048 && exec "$0" "$@"`, process.execPath, join(ROOT, 'bin', 'tether-agent.js'), 'run', '--state', small.stateDir], {
      cwd: ROOT, env: { ...process.env, ...FAST_AGENT_ENV, TETHER_FILE_ROOTS: root }, stdio: ['pipe', 'pipe', 'pipe'],
    }), 'files-small');
    dirs.push(small.stateDir);
    try {
      await waitFor(async () => (await deviceOf(backend, admin, small.deviceId))?.online === true, 30_000, 'the limited agent online');
      const data = randomBytes(8 * MB);
      const res = await upload(join(root, 'too-big.bin'), data, { deviceId: small.deviceId, transfer: 'too-big-file' });
      expect(res.status, res.body.toString()).toBe(507);
      expect(jsonOf(res)).toMatchObject({ code: 'NO_SPACE' });
      expect(existsSync(join(root, 'too-big.bin'))).toBe(false);
      await waitFor(() => leftovers(root).length === 0, 5_000, 'the part file removed');
    } finally {
      await limited.stop();
    }
  });

  it('refuses viewers, and audits every transfer with user, device, path, size, hash and outcome', async () => {
    const made = await api(backend, 'POST', '/api/v1/users', { token: admin, body: { username: 'files-viewer', password: 'viewer-password', role: 'viewer' } });
    expect(made.status).toBe(200);
    const viewer = ((await api(backend, 'POST', '/api/v1/auth/login', { body: { username: 'files-viewer', password: 'viewer-password' } })).body as { token: string }).token;
    const path = join(root, 'viewer.txt');
    const up = await upload(path, Buffer.from('no'), { token: viewer });
    expect(up.status).toBe(403);
    expect(jsonOf(up)).toMatchObject({ code: 'FORBIDDEN' });
    const down = await rawCall(backend, 'GET', contentUrl(join(root, 'secret.txt')), { token: viewer });
    expect(jsonOf(down)).toMatchObject({ code: 'FORBIDDEN' });
    const list = await api(backend, 'GET', `/api/v1/devices/${agent.deviceId}/files?path=${encodeURIComponent(root)}`, { token: viewer });
    expect(list.body).toMatchObject({ code: 'FORBIDDEN' });
    expect(existsSync(path)).toBe(false);

    const entries = async (action: string) => ((await api(backend, 'GET', `/api/v1/audit?action=${action}&limit=1000`, { token: admin })).body as AuditPage).entries;
    const uploads = await entries('file.upload');
    const big = join(root, 'big.bin');
    expect(uploads).toEqual(expect.arrayContaining([
      expect.objectContaining({ actor: 'user:admin', target: agent.deviceId, details: expect.objectContaining({ path: big, size: 50 * MB, outcome: 'completed', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }) }),
      expect.objectContaining({ details: expect.objectContaining({ path: join(root, 'resumed.bin'), outcome: 'interrupted' }) }),
      expect.objectContaining({ details: expect.objectContaining({ path: join(root, 'corrupt.txt'), outcome: 'failed', code: 'CHECKSUM_MISMATCH' }) }),
      expect.objectContaining({ details: expect.objectContaining({ path: join(root, 'too-big.bin'), outcome: 'failed', code: 'NO_SPACE' }) }),
    ]));
    const downloads = await entries('file.download');
    expect(downloads).toEqual(expect.arrayContaining([
      expect.objectContaining({ actor: 'user:admin', target: agent.deviceId, details: expect.objectContaining({ path: big, size: 50 * MB, outcome: 'completed', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }) }),
      expect.objectContaining({ details: expect.objectContaining({ outcome: 'failed', code: 'PATH_NOT_ALLOWED' }) }),
    ]));
    // Viewers' refusals never reached a device: nothing audited for them.
    expect([...uploads, ...downloads].filter((e) => e.actor === 'user:files-viewer')).toEqual([]);
  });

  it('takes its roots from the agent settings of the remote config, live', async () => {
    const other = tempDir('files-other-root');
    dirs.push(other);
    writeFileSync(join(other, 'note.txt'), 'from the other root');
    const listOther = () => api(backend, 'GET', `/api/v1/devices/${agent.deviceId}/files?path=${encodeURIComponent(other)}`, { token: admin });
    expect((await listOther()).body).toMatchObject({ code: 'PATH_NOT_ALLOWED' });
    const fleet = (await api(backend, 'GET', '/api/v1/config/layers/fleet', { token: admin })).body as { version: number; values: Record<string, unknown> };
    const put = await api(backend, 'PUT', '/api/v1/config/layers/fleet', { token: admin, body: { values: { ...fleet.values, agent: { fileRoots: [other] } }, expectedVersion: fleet.version } });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    await waitFor(async () => (await listOther()).status === 200, 15_000, 'the new root in force');
    expect((await listOther()).body).toMatchObject({ path: other, entries: [expect.objectContaining({ name: 'note.txt', type: 'file' })] });
    // The old root is no longer one.
    expect((await api(backend, 'GET', `/api/v1/devices/${agent.deviceId}/files?path=${encodeURIComponent(root)}`, { token: admin })).body).toMatchObject({ code: 'PATH_NOT_ALLOWED' });
  });
});
