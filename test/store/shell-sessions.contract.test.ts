import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { WebSocket } from 'ws';
import { afterEach, expect, it } from 'vitest';
import { parseAsciicast, type User } from '../../protocol/index.js';
import { AuditLog } from '../../backend/audit/audit-log.js';
import { ShellService } from '../../backend/shell/shell-service.js';
import type { NewShellSession } from '../../backend/shell/shell-session-store.js';
import { codeOf, describeEachEngine } from './engines.js';
import { FakeDeviceRouter } from './fake-device-router.js';

const log = pino({ level: 'silent' });
const DAY = 24 * 3600_000;

function session(id: string, deviceId: string, startedAt: number, recording: string | null = `${id}.cast`): NewShellSession {
  return { id, deviceId, username: 'alice', startedAt, recording };
}


/** A console's WebSocket as the shell service uses it. */
class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;
  readyState = 1;
  readonly sent: Array<string | Buffer> = [];
  closedWith: { code: number; reason: string } | null = null;
  /** What had been stored when the console was told the session ended. */
  storedAtEnd: unknown;

  constructor(private readonly onEnded: () => Promise<unknown> = async () => undefined) {
    super();
  }

  send(data: string | Buffer): void {
    this.sent.push(data);
    if (typeof data === 'string' && data.includes('"ended"')) this.storedAtEnd = this.onEnded();
  }

  close(code: number, reason: string): void {
    if (this.readyState === this.CLOSED) return;
    this.readyState = this.CLOSED;
    this.closedWith = { code, reason };
    this.emit('close', code);
  }

  messages(): Array<Record<string, unknown>> {
    return this.sent.filter((m): m is string => typeof m === 'string').map((m) => JSON.parse(m) as Record<string, unknown>);
  }
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

describeEachEngine('shell session store', (store) => {
  it('stores a session, lists newest first by device within the limit, and finds one', async () => {
    const { stores } = store();
    for (let i = 0; i < 5; i++) await stores.shellSessions.insert(session(`s${i}`, i % 2 === 0 ? 'dev_a' : 'dev_b', 1_000 + i));
    expect(await stores.shellSessions.find('s1')).toEqual({
      id: 's1', deviceId: 'dev_b', username: 'alice', startedAt: 1_001, endedAt: null, exitCode: null, endCode: null, outputBytes: 0, recording: 's1.cast',
    });
    expect(await stores.shellSessions.find('none')).toBeUndefined();
    expect((await stores.shellSessions.list({ limit: 100 })).map((s) => s.id)).toEqual(['s4', 's3', 's2', 's1', 's0']);
    expect((await stores.shellSessions.list({ limit: 2 })).map((s) => s.id)).toEqual(['s4', 's3']);
    expect((await stores.shellSessions.list({ deviceId: 'dev_a', limit: 100 })).map((s) => s.id)).toEqual(['s4', 's2', 's0']);
    expect((await stores.shellSessions.list({ deviceId: 'dev_b', limit: 1 })).map((s) => s.id)).toEqual(['s3']);
    expect(await stores.shellSessions.list({ deviceId: 'dev_none', limit: 100 })).toEqual([]);
  });

  it('records a session\'s end once, with its output bytes (up to 2^53)', async () => {
    const { stores } = store();
    await stores.shellSessions.insert(session('s', 'dev_a', 1_000));
    const big = 2 ** 40 + 7;
    expect(await stores.shellSessions.end('s', { endedAt: 2_000, exitCode: 0, endCode: null, outputBytes: big })).toBe(true);
    expect(await stores.shellSessions.end('s', { endedAt: 3_000, exitCode: null, endCode: 'GOING_AWAY', outputBytes: 1 })).toBe(false);
    expect(await stores.shellSessions.find('s')).toMatchObject({ endedAt: 2_000, exitCode: 0, endCode: null, outputBytes: big });
    expect(await stores.shellSessions.end('none', { endedAt: 3_000, exitCode: null, endCode: null, outputBytes: 0 })).toBe(false);
  });

  it('after a restart, ends the sessions left open with GOING_AWAY and leaves ended ones alone', async () => {
    const { stores } = store();
    await stores.shellSessions.insert(session('open1', 'dev_a', 1_000));
    await stores.shellSessions.insert(session('open2', 'dev_b', 1_001));
    await stores.shellSessions.insert(session('done', 'dev_a', 1_002));
    await stores.shellSessions.end('done', { endedAt: 2_000, exitCode: 3, endCode: null, outputBytes: 10 });
    expect(await stores.shellSessions.endOrphans(5_000)).toBe(2);
    expect(await stores.shellSessions.find('open1')).toMatchObject({ endedAt: 5_000, endCode: 'GOING_AWAY' });
    expect(await stores.shellSessions.find('done')).toMatchObject({ endedAt: 2_000, exitCode: 3, endCode: null });
    expect(await stores.shellSessions.endOrphans(6_000)).toBe(0);
  });

  it('ends the open sessions of a backend process that is gone, and only those', async () => {
    const { stores } = store();
    await stores.shellSessions.insert({ ...session('s1', 'dev_a', 1_000), owner: 'node-a#1' });
    await stores.shellSessions.insert({ ...session('s2', 'dev_a', 1_000), owner: 'node-b#1' });
    await stores.shellSessions.insert(session('s3', 'dev_a', 1_000));
    await stores.shellSessions.insert({ ...session('s4', 'dev_a', 1_000), owner: 'node-c#1' });
    await stores.shellSessions.end('s4', { endedAt: 2_000, exitCode: 0, endCode: null, outputBytes: 1 });
    expect((await stores.shellSessions.openOwners()).sort()).toEqual(['node-a#1', 'node-b#1']);
    expect(await stores.shellSessions.endOwnedBy('node-a#1', 5_000)).toBe(1);
    expect(await stores.shellSessions.find('s1')).toMatchObject({ endedAt: 5_000, endCode: 'GOING_AWAY' });
    expect(await stores.shellSessions.find('s2')).toMatchObject({ endedAt: null });
    expect(await stores.shellSessions.find('s3')).toMatchObject({ endedAt: null });
    expect(await stores.shellSessions.openOwners()).toEqual(['node-b#1']);
  });

  it('hands an open session to another process, whose end then stands alone; an ended one is not taken', async () => {
    const { stores } = store();
    await stores.shellSessions.insert({ ...session('s1', 'dev_a', 1_000), owner: 'node-a#1' });
    expect(await stores.shellSessions.adopt('s1', 'node-b#1')).toBe(true);
    expect(await stores.shellSessions.openOwners()).toEqual(['node-b#1']);
    // The old owner's end is void once the session moved; the new owner's stands.
    const end = { endedAt: 2_000, exitCode: 0, endCode: null, outputBytes: 5 };
    expect(await stores.shellSessions.end('s1', end, 'node-a#1')).toBe(false);
    expect(await stores.shellSessions.end('s1', end, 'node-b#1')).toBe(true);
    expect(await stores.shellSessions.adopt('s1', 'node-c#1')).toBe(false);
    expect(await stores.shellSessions.adopt('none', 'node-c#1')).toBe(false);
    expect(await stores.shellSessions.find('s1')).toMatchObject({ endedAt: 2_000, outputBytes: 5 });
  });

  it('finds the recordings past retention only among ended sessions, and forgets them', async () => {
    const { stores } = store();
    await stores.shellSessions.insert(session('old', 'dev_a', 1_000));
    await stores.shellSessions.insert(session('recent', 'dev_a', 1_000));
    await stores.shellSessions.insert(session('live', 'dev_a', 1_000));
    await stores.shellSessions.insert(session('none', 'dev_a', 1_000, null));
    await stores.shellSessions.end('old', { endedAt: 2_000, exitCode: 0, endCode: null, outputBytes: 1 });
    await stores.shellSessions.end('recent', { endedAt: 9_000, exitCode: 0, endCode: null, outputBytes: 1 });
    await stores.shellSessions.end('none', { endedAt: 2_000, exitCode: 0, endCode: null, outputBytes: 1 });
    expect(await stores.shellSessions.expiredRecordings(5_000)).toEqual([{ id: 'old', recording: 'old.cast' }]);
    // Exactly at the cutoff is still kept.
    expect((await stores.shellSessions.expiredRecordings(9_000)).map((r) => r.id)).toEqual(['old']);
    await stores.shellSessions.forgetRecording('old');
    expect(await stores.shellSessions.expiredRecordings(5_000)).toEqual([]);
    expect(await stores.shellSessions.find('old')).toMatchObject({ recording: null, endedAt: 2_000 });
    expect((await stores.shellSessions.expiredRecordings(Number.MAX_SAFE_INTEGER)).map((r) => r.id)).toEqual(['recent']);
  });
});

describeEachEngine('shell service over the store', (store) => {
  const alice: User = { id: 1, username: 'alice', role: 'operator', scope: null };

  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  /** A recordings directory of its own per test. */
  function recordingsDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'tether-recordings-'));
    dirs.push(dir);
    return dir;
  }

  it('opens a session, counts its output, records it, and writes its end before telling the console', async () => {
    const { stores } = store();
    const router = new FakeDeviceRouter();
    router.online.add('dev_a');
    const shells = new ShellService({ router, stores, audit: new AuditLog(stores), recordingsDir: recordingsDir(), log });
    await shells.ready;
    const ws = new FakeSocket(async () => {
      const listed = await shells.list({ deviceId: 'dev_a', limit: 10 });
      return listed[0];
    });
    shells.accept(ws as unknown as WebSocket, alice, { deviceId: 'dev_a', cols: 80, rows: 24 });
    await until(() => ws.messages().some((m) => m.type === 'opened'), 'opened');
    const opened = ws.messages().find((m) => m.type === 'opened');
    const sessionId = String(opened?.sessionId);
    const open = router.requests.find((r) => r.method === 'shell.open')?.params as { streamId: number };
    router.data(open.streamId, 'hello ');
    router.data(open.streamId, 'world\r\n');
    const live = await shells.list({ limit: 10 });
    expect(live).toEqual([expect.objectContaining({ id: sessionId, live: true, endedAt: null, hasRecording: true })]);
    router.emit('dev_a', 'shell.exit', { streamId: open.streamId, exitCode: 0, signal: null });
    await until(() => ws.closedWith !== null, 'the socket to close');
    expect(ws.closedWith?.code).toBe(1000);
    expect(ws.messages().find((m) => m.type === 'ended')).toMatchObject({ exitCode: 0, code: null });
    // When the console heard `ended`, the store already said so.
    expect(await ws.storedAtEnd).toMatchObject({ id: sessionId, live: false, exitCode: 0, outputBytes: 13, endedAt: expect.any(Number) });
    expect(await stores.shellSessions.find(sessionId)).toMatchObject({ deviceId: 'dev_a', username: 'alice', outputBytes: 13, exitCode: 0, endCode: null });
    const { path } = await shells.recording(sessionId, 'user:alice', () => true);
    const { events } = parseAsciicast(readFileSync(path, 'utf8'));
    expect(events.filter((e) => e.kind === 'o').map((e) => e.data).join('')).toBe('hello world\r\n');
    expect(await codeOf(shells.recording(sessionId, 'user:mallory', () => false))).toBe('NOT_FOUND');
    expect(await codeOf(shells.recording('00000000-0000-4000-8000-000000000000', 'user:alice', () => true))).toBe('NOT_FOUND');
    const actions = (await stores.audit.query({}, 100)).map((e) => `${e.actor} ${e.action}`);
    expect(actions).toEqual(['user:alice shell.recording.download', 'user:alice shell.end', 'user:alice shell.open']);
    await shells.close();
  });

  it('ends the sessions a crash left open and deletes recordings of sessions ended past retention', async () => {
    const { stores } = store();
    const now = 100 * DAY;
    const router = new FakeDeviceRouter();
    const dir = recordingsDir();
    for (const id of ['expired', 'kept', 'orphan']) {
      await stores.shellSessions.insert(session(id, 'dev_a', 10 * DAY));
      writeFileSync(join(dir, `${id}.cast`), '{}\n');
    }
    await stores.shellSessions.end('expired', { endedAt: now - 31 * DAY, exitCode: 0, endCode: null, outputBytes: 1 });
    await stores.shellSessions.end('kept', { endedAt: now - 29 * DAY, exitCode: 0, endCode: null, outputBytes: 1 });
    const shells = new ShellService({ router, stores, audit: new AuditLog(stores), recordingsDir: dir, log, now: () => now, limits: { recordingRetentionMs: 30 * DAY } });
    await shells.ready;
    expect(existsSync(join(dir, 'expired.cast'))).toBe(false);
    expect(existsSync(join(dir, 'kept.cast'))).toBe(true);
    // The orphan ended just now: its recording stays for the whole retention period.
    expect(existsSync(join(dir, 'orphan.cast'))).toBe(true);
    expect(await stores.shellSessions.find('orphan')).toMatchObject({ endedAt: now, endCode: 'GOING_AWAY' });
    const listed = await shells.list({ deviceId: 'dev_a', limit: 10 });
    expect(listed.map((s) => [s.id, s.hasRecording, s.live])).toEqual(expect.arrayContaining([['expired', false, false], ['kept', true, false], ['orphan', true, false]]));
    expect(await codeOf(shells.recording('expired', 'user:alice', () => true))).toBe('NOT_FOUND');
    await shells.close();
  });
});
