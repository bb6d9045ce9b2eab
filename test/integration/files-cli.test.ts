/**
 * `tether cp` spawned as a user runs it, against a real backend and agent: both directions,
 * resume of an interrupted upload and download, --json, and the API's error codes.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import type * as NodePty from 'node-pty';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadPartPath, uploadTransferId, type CopyReport } from '../../cli/file-copy.js';
import { ADMIN_PASSWORD, cleanup, enrolAndRun, login, ROOT, startBackend, tempDir, waitFor, type Backend, type Proc } from '../harness.js';
import { rawCall } from '../file-client.js';

const TETHER = join(ROOT, 'bin', 'tether.js');
const nodePty = createRequire(import.meta.url)('node-pty') as typeof NodePty;
const MB = 1024 * 1024;
const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('tether cp', () => {
  let backend: Backend;
  let admin = '';
  let agent: { proc: Proc; stateDir: string; deviceId: string };
  let root = '';
  let local = '';
  let config = '';
  const dirs: string[] = [];

  function tether(args: string[], input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, [TETHER, ...args], { cwd: ROOT, env: { ...process.env, XDG_CONFIG_HOME: config }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.stdin.end(input);
    return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  }

  beforeAll(async () => {
    backend = await startBackend();
    admin = await login(backend);
    root = tempDir('cp-root');
    local = tempDir('cp-local');
    config = tempDir('cp-config');
    dirs.push(root, local, config);
    agent = await enrolAndRun(backend, admin, 'cp-robot', { TETHER_FILE_ROOTS: root });
    const res = await tether(['login', backend.url, '--ca-pin', backend.caPin, '--username', 'admin'], `${ADMIN_PASSWORD}\n`);
    expect(res.code, res.stderr).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await agent?.proc.stop();
    await backend?.stop();
    cleanup(backend?.home ?? '', agent?.stateDir ?? '', ...dirs);
  });

  it('is documented', async () => {
    const help = await tether(['cp', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('DEVICE:/path');
    expect(help.stdout).toContain('--json');
  });

  it('uploads to DEVICE:PATH and downloads back, by device name, with equal SHA-256', async () => {
    const data = randomBytes(5 * MB + 3);
    const source = join(local, 'up.bin');
    writeFileSync(source, data);
    const up = await tether(['cp', source, `cp-robot:${root}/`, '--json']);
    expect(up.code, up.stderr).toBe(0);
    const upReport = JSON.parse(up.stdout) as CopyReport;
    expect(upReport).toEqual({ direction: 'upload', deviceId: agent.deviceId, path: join(root, 'up.bin'), local: source, size: data.length, sha256: sha(data), resumedFrom: 0, attempts: 1 });
    expect(readFileSync(join(root, 'up.bin')).equals(data)).toBe(true);

    const into = join(local, 'down');
    mkdirSync(into);
    const down = await tether(['cp', `${agent.deviceId}:${root}/up.bin`, into, '--json']);
    expect(down.code, down.stderr).toBe(0);
    expect(JSON.parse(down.stdout)).toEqual({ direction: 'download', deviceId: agent.deviceId, path: join(root, 'up.bin'), local: join(into, 'up.bin'), size: data.length, sha256: sha(data), resumedFrom: 0, attempts: 1 });
    expect(readFileSync(join(into, 'up.bin')).equals(data)).toBe(true);
    expect(readdirSync(into)).toEqual(['up.bin']);

    // Without --json: a summary on stderr, nothing on stdout (no progress bar off a terminal).
    const plain = await tether(['cp', source, `cp-robot:${root}/plain.bin`]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toBe('');
    expect(plain.stderr).toContain(`Uploaded ${data.length} bytes to cp-robot:${join(root, 'plain.bin')}`);
  });

  it('draws a progress bar on a terminal', async () => {
    const source = join(local, 'progress.bin');
    writeFileSync(source, randomBytes(8 * MB));
    const pty = nodePty.spawn(process.execPath, [TETHER, 'cp', source, `cp-robot:${root}/progress.bin`], { cwd: ROOT, env: { ...process.env, XDG_CONFIG_HOME: config }, cols: 120, rows: 20 });
    let screen = '';
    pty.onData((text) => (screen += text));
    const exitCode = await new Promise<number>((resolve) => pty.onExit(({ exitCode: code }) => resolve(code)));
    expect(exitCode, screen).toBe(0);
    expect(screen).toContain('progress.bin');
    expect(screen).toMatch(/100% \| 8\.0 MB of 8\.0 MB/);
    expect(screen).toContain(`Uploaded ${8 * MB} bytes`);
  });

  it('resumes an upload that was cut, from what the device holds', async () => {
    const data = randomBytes(16 * MB);
    const source = join(local, 'resume-up.bin');
    writeFileSync(source, data);
    const path = join(root, 'resume-up.bin');
    const transfer = uploadTransferId(agent.deviceId, path, { name: 'resume-up.bin', size: data.length, modifiedAtMs: statSync(source).mtimeMs });
    const query = new URLSearchParams({ path, transfer, offset: '0', size: String(data.length), sha256: sha(data) });
    await expect(rawCall(backend, 'PUT', `/api/v1/devices/${agent.deviceId}/files/content?${query.toString()}`, { token: admin, body: data, cutAfter: 8 * MB })).rejects.toThrow();
    const part = join(root, `.resume-up.bin.tether-${transfer}.part`);
    let held = -1;
    await waitFor(() => {
      const now = existsSync(part) ? statSync(part).size : 0;
      const settled = now > 0 && now === held;
      held = now;
      return settled;
    }, 15_000, 'the part file to settle');
    // At rest, so cp hashes it as it sends it: what the device holds is hashed again here, then the rest as it goes.
    await new Promise((r) => setTimeout(r, Math.max(0, statSync(source).ctimeMs + 2_100 - Date.now())));

    const res = await tether(['cp', source, `cp-robot:${path}`, '--json']);
    expect(res.code, res.stderr).toBe(0);
    const report = JSON.parse(res.stdout) as CopyReport;
    // From what the device holds when cp asks: at least what had settled (a loaded machine may
    // still be writing the last frames that reached it), never more than the cut let through.
    expect(report.resumedFrom).toBeGreaterThanOrEqual(held);
    expect(report.resumedFrom).toBeGreaterThan(0);
    expect(report.resumedFrom).toBeLessThanOrEqual(8 * MB);
    expect(readFileSync(path).equals(data)).toBe(true);
    expect(existsSync(part)).toBe(false);
  });

  it('resumes a download from its local part file', async () => {
    const data = randomBytes(6 * MB + 5);
    writeFileSync(join(root, 'resume-down.bin'), data);
    const destination = join(local, 'resume-down.bin');
    writeFileSync(downloadPartPath(destination), data.subarray(0, 2 * MB));
    const res = await tether(['cp', `cp-robot:${root}/resume-down.bin`, destination, '--json']);
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ resumedFrom: 2 * MB, size: data.length, sha256: sha(data) });
    expect(readFileSync(destination).equals(data)).toBe(true);
    expect(existsSync(downloadPartPath(destination))).toBe(false);
  });

  it('keeps nothing when a resumed download does not match the device\'s SHA-256', async () => {
    const data = randomBytes(MB);
    writeFileSync(join(root, 'stale.bin'), data);
    const destination = join(local, 'stale.bin');
    // A part file from another version of the file: its bytes are wrong.
    writeFileSync(downloadPartPath(destination), randomBytes(1000));
    const res = await tether(['cp', `cp-robot:${root}/stale.bin`, destination]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^error CHECKSUM_MISMATCH: /m);
    expect(existsSync(destination)).toBe(false);
    expect(existsSync(downloadPartPath(destination))).toBe(false);
    // Run again: a fresh copy.
    expect((await tether(['cp', `cp-robot:${root}/stale.bin`, destination])).code).toBe(0);
    expect(readFileSync(destination).equals(data)).toBe(true);
  });

  it('downloads a file at rest with its hash as a trailer, the device reading it once; a wrong part file is still refused', async () => {
    const good = randomBytes(6 * MB + 5);
    const stale = randomBytes(MB);
    writeFileSync(join(root, 'rest-good.bin'), good);
    writeFileSync(join(root, 'rest-stale.bin'), stale);
    // The device hashes a file as it sends it only once the file has not changed for 2 s.
    await new Promise((r) => setTimeout(r, 2_100));
    const opened = (name: string) => agent.proc.json().filter((e) => e.msg === 'download opened' && String(e.path).endsWith(name));
    const destination = join(local, 'rest-good.bin');
    writeFileSync(downloadPartPath(destination), good.subarray(0, 2 * MB));
    const res = await tether(['cp', `cp-robot:${root}/rest-good.bin`, destination, '--json']);
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ resumedFrom: 2 * MB, size: good.length, sha256: sha(good), attempts: 1 });
    expect(readFileSync(destination).equals(good)).toBe(true);
    expect(opened('rest-good.bin')).toEqual([expect.objectContaining({ hashLast: true, hashRead: false, offset: 2 * MB })]);

    const wrong = join(local, 'rest-stale.bin');
    writeFileSync(downloadPartPath(wrong), randomBytes(1000));
    const refused = await tether(['cp', `cp-robot:${root}/rest-stale.bin`, wrong]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error CHECKSUM_MISMATCH: /m);
    expect(existsSync(wrong)).toBe(false);
    expect(existsSync(downloadPartPath(wrong))).toBe(false);
    expect(opened('rest-stale.bin')).toEqual([expect.objectContaining({ hashLast: true })]);
  });

  it('reports the API\'s codes and messages, as {code, message} with --json', async () => {
    const source = join(local, 'small.txt');
    writeFileSync(source, 'hello\n');
    const refused = await tether(['cp', source, 'cp-robot:/etc/tether-test.txt']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error PATH_NOT_ALLOWED: .*outside the allowed roots/m);
    const missing = await tether(['cp', `cp-robot:${root}/nothing-here`, local, '--json']);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stderr.trim().split('\n').pop() ?? '')).toMatchObject({ code: 'PATH_NOT_FOUND', message: expect.any(String) });
    const both = await tether(['cp', source, join(local, 'other.txt')]);
    expect(both.stderr).toMatch(/^error BAD_REQUEST: /);
    const unknown = await tether(['cp', source, 'no-such-robot:/tmp/x']);
    expect(unknown.stderr).toMatch(/^error DEVICE_UNKNOWN: /);
  });
});
