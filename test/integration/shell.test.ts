import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlClient } from '../../agent/control/control-client.js';
import { DEFAULT_LOW_WATER_BYTES } from '../../agent/shell/flow-window.js';
import { loadAgentState } from '../../agent/state/agent-state.js';
import { parseAsciicast, SHELL_ACK_BATCH_BYTES } from '../../protocol/index.js';
import { api, backendDb, cleanup, createToken, enrolAndRun, login, registerAgent, startBackend, tempDir, waitFor, type Backend, type Proc } from '../harness.js';
import { parsePrometheusText, sampleValue } from '../prometheus-text.js';
import { addUser, ShellClient } from '../shell-client.js';

const PROMPT = 'PROMPT> ';
/** dash with a known prompt: deterministic output whatever the machine's login shell. */
const AGENT_ENV = { TETHER_SHELL: '/bin/sh', PS1: PROMPT };

describe('remote shell through a real backend and real agents with real PTYs', () => {
  let backend: Backend;
  let admin: string;
  let agent: { proc: Proc; stateDir: string; deviceId: string };
  const dirs: string[] = [];

  beforeAll(async () => {
    backend = await startBackend({ env: { TETHER_SHELL_IDLE_MS: '8000', TETHER_SHELL_GRACE_MS: '4000' } });
    admin = await login(backend);
    agent = await enrolAndRun(backend, admin, 'pty-host', AGENT_ENV);
  });

  afterAll(async () => {
    await agent.proc.stop();
    await backend.stop();
    cleanup(backend.home, agent.stateDir, ...dirs);
  });

  const open = (cols = 80, rows = 24) => ShellClient.open(backend, admin, { deviceId: agent.deviceId, cols, rows });
  const scrape = async (name: string) => sampleValue(parsePrometheusText(String((await api(backend, 'GET', '/metrics')).body)), name) ?? 0;

  it('round-trips typed input to the PTY and its output back', async () => {
    const term = await open();
    await term.waitFor(PROMPT);
    expect(await scrape('tether_shell_sessions_open')).toBe(1);
    const from = term.received;
    term.type('echo round-$((20+22))-trip\r');
    await term.waitFor('round-42-trip', from);
    term.type('exit\r');
    const closed = await term.closed;
    expect(closed.code).toBe(1000);
    expect(term.ended).toMatchObject({ type: 'ended', exitCode: 0, code: null });
    expect(await scrape('tether_shell_sessions_open')).toBe(0);
  });

  it('resizes the PTY: stty size answers the new rows and columns', async () => {
    const term = await open(80, 24);
    await term.waitFor(PROMPT);
    term.type('stty size\r');
    await term.waitFor('24 80');
    term.control({ type: 'resize', cols: 132, rows: 43 });
    // The resize goes to the device as a request, typed bytes as stream data: ask until the PTY has it.
    await waitFor(async () => {
      const from = term.received;
      term.type('stty size\r');
      await term.waitFor(PROMPT, from);
      return term.text(from).includes('43 132');
    }, 10_000, 'stty size to answer 43 132');
    term.close();
  });

  it('a yes flood stays bounded by flow control, and Ctrl-C stops it within 200 ms', async () => {
    const term = await open();
    await term.waitFor(PROMPT);
    term.type('yes\r');
    await term.until(() => term.received > 2 * 1024 * 1024, 20_000, '2 MB of yes');

    // A console that stops drawing: the agent must stop within its window, not fill memory.
    term.holdAcks = true;
    const holdAt = term.received;
    // What was in flight still arrives; then the stream must stall (it never would without flow control).
    await term.settled(500, 10_000);
    const heldAt = term.received;
    const unacked = term.received - term.acked;
    expect(heldAt - holdAt).toBeLessThan(256 * 1024);
    expect(unacked).toBeLessThan(256 * 1024);

    const list = await api(backend, 'GET', `/api/v1/shell/sessions?deviceId=${agent.deviceId}`, { token: admin });
    const live = (list.body as { sessions: Array<{ id: string; live: boolean; maxPendingBytes: number | null }> }).sessions.find((s) => s.id === term.sessionId);
    expect(live?.live).toBe(true);
    expect(live?.maxPendingBytes).toBeLessThan(256 * 1024);

    // The console acks in two parts: the first leaves the agent just above its low mark (still
    // paused); the second is under the backend's ack batch, so only its timer passes it on.
    const ack = (bytes: number) => {
      term.acked += bytes;
      term.control({ type: 'ack', bytes });
    };
    const stalledAt = term.received;
    ack(unacked - DEFAULT_LOW_WATER_BYTES - (SHELL_ACK_BATCH_BYTES - 1));
    await term.settled(300);
    expect(term.received).toBe(stalledAt);
    ack(SHELL_ACK_BATCH_BYTES - 1);
    // Without the backend's ack timer this never resumes; the bound only covers a loaded CI machine.
    await term.until(() => term.received > stalledAt, 5_000, 'a small ack to resume the PTY');

    term.holdAcks = false;
    term.ackAll();
    await term.until(() => term.received > heldAt + 512 * 1024, 10_000, 'output to resume');
    const from = term.received;
    const t0 = Date.now();
    term.type('\x03');
    await term.waitFor(PROMPT, from, 5_000);
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeLessThan(200);
    term.close();
  });

  it('records the session as asciicast v2 that replays exactly the bytes shown', async () => {
    const term = await open(100, 30);
    await term.waitFor(PROMPT);
    term.type("printf 'caf\\303\\251 \\342\\234\\223 %s\\n' recorded; seq 1 2000\r");
    await term.waitFor('2000\r\n');
    term.control({ type: 'resize', cols: 90, rows: 20 });
    term.type('exit\r');
    await term.closed;
    const res = await api(backend, 'GET', `/api/v1/shell/sessions/${term.sessionId}/recording`, { token: admin });
    expect(res.status).toBe(200);
    const { header, events } = parseAsciicast(String(res.body));
    expect(header).toMatchObject({ version: 2, width: 100, height: 30 });
    const replayed = events.filter((e) => e.kind === 'o').map((e) => e.data).join('');
    expect(replayed).toBe(term.text());
    expect(replayed).toContain('café ✓ recorded');
    expect(events.some((e) => e.kind === 'r' && e.data === '90x20')).toBe(true);
    const times = events.map((e) => e.t);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  it('reconnects to the same session after a network blip within the grace period', async () => {
    const term = await open();
    await term.waitFor(PROMPT);
    term.type('MARK=still-here-7\r');
    await term.waitFor(PROMPT, term.received - 1);
    // Output the console received but had not acked when the connection dropped is resent, and
    // `opened.offset` says where it begins, so the console can skip what it already has.
    term.ackAll();
    term.holdAcks = true;
    const before = term.received;
    term.type('echo held-$((6*7))\r');
    await term.until(() => /held-42\r?\n[\s\S]*PROMPT> $/.test(term.text(before)), 10_000, 'the output, then the prompt');
    await term.settled(200);
    const { acked, received } = term;
    term.ws.terminate();
    await term.closed;
    const again = await ShellClient.open(backend, admin, { sessionId: term.sessionId });
    expect(again.sessionId).toBe(term.sessionId);
    expect(again.opened).toMatchObject({ resumed: true, offset: acked });
    await again.until(() => again.received >= received - acked);
    expect(Buffer.concat(again.chunks).subarray(0, received - acked)).toEqual(Buffer.concat(term.chunks).subarray(acked, received));
    expect(Buffer.concat(again.chunks).toString()).toContain('held-42');
    again.type('echo "$MARK"\r');
    await again.waitFor('still-here-7');
    again.close();
    // Past the grace period a session that nobody reattached is gone for good.
    const live = async () => ((await api(backend, 'GET', `/api/v1/shell/sessions?deviceId=${agent.deviceId}`, { token: admin })).body as { sessions: Array<{ id: string; live: boolean }> }).sessions.find((s) => s.id === term.sessionId)?.live;
    await waitFor(async () => (await live()) === false, 10_000, 'the session to end after the grace period');
    await expect(ShellClient.open(backend, admin, { sessionId: term.sessionId })).rejects.toMatchObject({ status: 410 });
  });

  it('a deliberate close ends the PTY at once; an abrupt drop keeps it for a reattach', async () => {
    const session = async (id: string) => {
      const res = await api(backend, 'GET', `/api/v1/shell/sessions?deviceId=${agent.deviceId}`, { token: admin });
      return (res.body as { sessions: Array<{ id: string; live: boolean; endedAt: number | null; endCode: string | null }> }).sessions.find((s) => s.id === id);
    };
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const shellPid = async (term: ShellClient) => {
      const from = term.received;
      term.type('echo "PID=$$"\r');
      await term.until(() => /PID=\d+/.test(term.text(from)), 10_000, 'the shell pid');
      return Number(/PID=(\d+)/.exec(term.text(from))?.[1]);
    };

    // Abrupt drop: the PTY lives on through the grace period and the console can reattach to it.
    const dropped = await open();
    await dropped.waitFor(PROMPT);
    const droppedPid = await shellPid(dropped);
    dropped.ws.terminate();
    await dropped.closed;
    const resumed = await ShellClient.open(backend, admin, { sessionId: dropped.sessionId });
    expect(resumed.opened).toMatchObject({ resumed: true });
    expect(await shellPid(resumed)).toBe(droppedPid);
    expect(alive(droppedPid)).toBe(true);
    expect(await session(dropped.sessionId)).toMatchObject({ live: true, endedAt: null });

    // Deliberate close (the console's closed tab): well within the grace period the PTY is gone and the row ended.
    const t0 = Date.now();
    resumed.closeTab();
    await waitFor(() => !alive(droppedPid), 2_000, 'the PTY to exit');
    await waitFor(async () => (await session(dropped.sessionId))?.live === false, 2_000, 'the session to end');
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(await session(dropped.sessionId)).toMatchObject({ live: false, endCode: 'SHELL_CLOSED', endedAt: expect.any(Number) });
    // The recording is closed with the session: complete and downloadable at once.
    const recording = await api(backend, 'GET', `/api/v1/shell/sessions/${dropped.sessionId}/recording`, { token: admin });
    expect(recording.status).toBe(200);
    expect(String(recording.body)).toContain(`PID=${droppedPid}`);
    await expect(ShellClient.open(backend, admin, { sessionId: dropped.sessionId })).rejects.toMatchObject({ status: 410 });
  });

  it('ends a session that had no input for the idle timeout', async () => {
    const term = await open();
    await term.waitFor(PROMPT);
    const closed = await term.closed;
    expect(closed.reason).toBe('SHELL_IDLE');
    expect(term.ended).toMatchObject({ code: 'SHELL_IDLE' });
  }, 20_000);

  it('refuses a viewer with FORBIDDEN, and another user cannot take over a session', async () => {
    const viewer = await addUser(backend, 'vera', 'viewer');
    await expect(ShellClient.open(backend, viewer, { deviceId: agent.deviceId, cols: 80, rows: 24 })).rejects.toMatchObject({ status: 403, body: expect.stringContaining('FORBIDDEN') });
    const run = await api(backend, 'POST', `/api/v1/devices/${agent.deviceId}/commands`, { token: viewer, body: { command: { shell: 'id' } } });
    expect(run.status).toBe(403);
    expect(run.body).toMatchObject({ code: 'FORBIDDEN' });

    const operator = await addUser(backend, 'otto', 'operator');
    const mine = await open();
    await expect(ShellClient.open(backend, operator, { sessionId: mine.sessionId })).rejects.toMatchObject({ status: 403 });
    mine.close();
  });

  it('a device cannot write into another device\'s session', async () => {
    const marker = join(tempDir('pwned'), 'pwned');
    dirs.push(join(marker, '..'));

    // A second, genuinely enrolled device speaking the real protocol, sending bytes on every low stream id.
    // It enrols (a key pair, a process start) before the victim's terminal opens: on a loaded
    // machine that can outlast this file's 8 s idle timeout, which would end the victim's session.
    const stateDir = tempDir('rogue');
    dirs.push(stateDir);
    const reg = await registerAgent(backend, await createToken(backend, admin), stateDir, ['--name', 'rogue']);
    expect(reg.code).toBe(0);
    const rogue = new ControlClient({ state: loadAgentState(stateDir), log: pino({ level: 'silent' }), onConnected: () => undefined, onFatal: () => undefined });
    rogue.start();
    let victim: ShellClient | null = null;
    try {
      await waitFor(() => rogue.connected, 15_000, 'rogue connected');
      victim = await open();
      await victim.waitFor(PROMPT);
      const dropped = () => scrape('tether_stream_frames_dropped_total');
      const droppedBefore = await dropped();
      for (let id = 1; id <= 64; id++) expect(rogue.sendStream(id, Buffer.from(`touch ${marker}; echo INJECTED\r`))).toBe(true);
      // Every frame has reached the backend and been refused by the rogue's own link.
      await waitFor(async () => (await dropped()) >= droppedBefore + 64, 10_000, 'the rogue frames to be dropped');
      expect(victim.text()).not.toContain('INJECTED');
      expect(() => readFileSync(marker)).toThrow(/ENOENT/);
      // The victim's session is unharmed.
      const from = victim.received;
      victim.type('echo fine\r');
      await victim.waitFor('fine', from);
    } finally {
      rogue.stop();
      victim?.close();
    }
  });

  it('puts every shell session in the audit log', async () => {
    const db = await backendDb(backend, 'main');
    const rows = await db.selectFrom('audit_log').select(['action', 'target']).where('action', 'like', 'shell.%').execute();
    await db.destroy();
    const opens = rows.filter((r) => r.action === 'shell.open');
    expect(opens.length).toBeGreaterThanOrEqual(7);
    expect(opens.every((r) => r.target === agent.deviceId)).toBe(true);
    expect(rows.filter((r) => r.action === 'shell.end').length).toBeGreaterThanOrEqual(4);
    expect(rows.some((r) => r.action === 'shell.resume')).toBe(true);
    expect(rows.some((r) => r.action === 'shell.recording.download')).toBe(true);
  });
});
