import { createHash, randomBytes } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { api, cleanup, deviceOf, enrolAndRun, login, openConsole, startAgent, startBackend, tempDir, waitFor, type Backend, type Proc } from '../harness.js';
import { dropPrefix, TEST_NATS_URL, testNats, testPrefix } from '../bus/test-nats.js';
import { createTestDatabase } from '../store/test-database.js';
import { rawCall } from '../file-client.js';
import { ShellClient } from '../shell-client.js';

/**
 * Two real `tether-backend serve` processes on one PostgreSQL database and one NATS (a prefix of
 * this file's own), real agents. Both nodes present the same CA: node B's home starts with a
 * copy of node A's pki/ folder, as docs/cluster.md tells admins to do.
 */
describe('a cluster of two nodes', () => {
  let database: { url: string; drop(): Promise<void> } | undefined;
  const prefix = testPrefix();
  let a: Backend;
  let b: Backend;
  const backends: Backend[] = [];
  let tokenA = '';
  let tokenB = '';
  const agents: Array<{ proc: Proc; stateDir: string; deviceId: string }> = [];
  const homes: string[] = [];

  const nodeEnv = (nodeId: string) => ({ TETHER_DATABASE_URL: database?.url ?? '', TETHER_NATS_URL: TEST_NATS_URL, TETHER_NATS_PREFIX: prefix, TETHER_NODE_ID: nodeId });

  beforeAll(async () => {
    // Both fail with how to start the server when it is not running.
    await (await testNats()).close();
    database = await createTestDatabase();
    a = await startBackend({ env: nodeEnv('node-a') });
    backends.push(a);
    homes.push(a.home);
    tokenA = await login(a);
  });

  // Runs whatever part of the file ran (a filtered run starts only node A): nothing is left behind.
  afterAll(async () => {
    for (const agent of agents) await agent.proc.stop();
    await Promise.all(backends.map((backend) => backend.proc.stop()));
    await database?.drop();
    await dropPrefix(prefix);
    cleanup(...homes, ...agents.map((x) => x.stateDir));
  });

  it('a node joining a live cluster leaves the runs of the other node alone', async () => {
    agents.push(await enrolAndRun(a, tokenA, 'robot-1'));
    const deviceId = agents[0]!.deviceId;
    // Runs until the test lets it end, after node B has started (and would have ended it, had it cleaned up).
    const gate = join(tempDir('gate'), 'go');
    homes.push(dirname(gate));
    const started = await api(a, 'POST', `/api/v1/devices/${deviceId}/commands`, { token: tokenA, body: { command: { shell: `while [ ! -e '${gate}' ]; do sleep 0.1; done; echo done` }, timeoutMs: 60_000 } });
    expect(started.status).toBe(200);
    const runId = (started.body as { id: string }).id;

    const homeB = tempDir('backend');
    homes.push(homeB);
    cpSync(join(a.home, 'pki'), join(homeB, 'pki'), { recursive: true });
    b = await startBackend({ home: homeB, env: nodeEnv('node-b') });
    backends.push(b);
    expect(b.caPin).toBe(a.caPin);
    tokenB = await login(b);
    expect(b.proc.count((e) => e.msg === 'joining live nodes: their sessions and runs are left alone')).toBe(1);

    const run = async () => (await api(a, 'GET', `/api/v1/runs/${runId}`, { token: tokenA })).body as { state: string; stdout: string };
    expect((await run()).state).toBe('running');
    writeFileSync(gate, '');
    await waitFor(async () => (await run()).state === 'succeeded', 20_000, 'the run on node A to finish');
    expect((await run()).stdout).toBe('done\n');
  });

  it('shows a device enrolled through node A online through node B, and B reaches it', async () => {
    const deviceId = agents[0]!.deviceId;
    await waitFor(async () => (await deviceOf(b, tokenB, deviceId))?.online === true, 10_000, 'the device online via node B');
    const ready = await api(b, 'GET', '/readyz');
    expect(ready.status).toBe(200);

    // A device request from a console on node B, answered by the agent connected to node A.
    const console = await openConsole(b, tokenB);
    try {
      const echo = await console.request(deviceId, 'system.echo', { payload: 'across nodes' });
      expect(echo).toMatchObject({ ok: true, result: { payload: 'across nodes' } });
      const info = await console.request(deviceId, 'system.info', {});
      expect(info.ok).toBe(true);
      // Live metrics of a device whose telemetry node A ingests, on a console of node B.
      console.send({ type: 'metrics.subscribe', target: deviceId });
      await waitFor(() => console.messages.some((m) => m.type === 'metrics.samples' && m.deviceId === deviceId && m.samples.length > 0), 10_000, 'live samples on node B');
    } finally {
      console.close();
    }

    // A configuration change made on node B reaches the device through node A, which holds it.
    const agent = agents[0]!;
    const fleet = (await api(b, 'GET', '/api/v1/config/layers/fleet', { token: tokenB })).body as { version: number };
    const put = await api(b, 'PUT', '/api/v1/config/layers/fleet', { token: tokenB, body: { values: { app: { color: 'green' } }, expectedVersion: fleet.version, message: 'from node B' } });
    expect(put.status).toBe(200);
    const applied = () => {
      try {
        return (JSON.parse(readFileSync(join(agent.stateDir, 'config', 'config.json'), 'utf8')) as { config: { app?: { color?: string } } }).config.app?.color;
      } catch {
        return undefined;
      }
    };
    await waitFor(() => applied() === 'green', 15_000, 'the change made on node B applied on the device').catch((err: unknown) => {
      throw new Error(`${String(err)}\n--- node A ---\n${a.proc.tail(40)}\n--- node B ---\n${b.proc.tail(20)}`);
    });

    // A tag set on node B that brings the device under a group layer: node A, which holds it, pushes.
    const group = await api(b, 'PUT', '/api/v1/config/layers/group:site-x', { token: tokenB, body: { selector: { site: 'x' }, priority: 10, values: { app: { color: 'purple' } }, expectedVersion: 0 } });
    expect(group.status).toBe(200);
    expect((await api(b, 'POST', '/api/v1/devices/tags', { token: tokenB, body: { ids: [deviceId], set: { site: 'x' } } })).status).toBe(200);
    await waitFor(() => applied() === 'purple', 15_000, 'the tag set on node B applied on the device');
  });

  it('a command, a shell with flow control and a file from node B reach the device held by node A', async () => {
    const deviceId = agents[0]!.deviceId;
    // A command's output streams back across the bus, with its exit code.
    const exec = await api(b, 'POST', `/api/v1/devices/${deviceId}/commands`, { token: tokenB, body: { command: { shell: 'echo across; echo to-stderr >&2' }, wait: true } });
    expect(exec.status).toBe(200);
    expect(exec.body).toMatchObject({ state: 'succeeded', exitCode: 0, stdout: 'across\n', stderr: 'to-stderr\n' });

    // A shell through a console on node B: typed bytes go to node A and the PTY, its output comes back.
    const term = await ShellClient.open(b, tokenB, { deviceId, cols: 80, rows: 24 });
    term.type('echo cross-$((40+2))-node\r');
    await term.waitFor('cross-42-node');
    // A flood with the console's acks held: the agent stops within its window, nothing piles up on the way.
    term.type('yes\r');
    await term.until(() => term.received > 1024 * 1024, 20_000, '1 MB of yes');
    term.holdAcks = true;
    const holdAt = term.received;
    await term.settled(500, 10_000);
    expect(term.received - holdAt).toBeLessThan(256 * 1024);
    expect(term.received - term.acked).toBeLessThan(256 * 1024);
    // The acks travel back across the bus and the PTY resumes.
    term.holdAcks = false;
    term.ackAll();
    await term.until(() => term.received > holdAt + 512 * 1024, 10_000, 'output to resume');
    term.type('\x03');
    term.type('exit 7\r');
    await term.closed;
    expect(term.ended).toMatchObject({ type: 'ended', exitCode: 7 });

    // A file up to the device and back down, both through node B.
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const sha256 = createHash('sha256').update(data).digest('hex');
    const dir = tempDir('cross-node-files');
    homes.push(dir);
    const path = join(dir, 'across.bin');
    const query = new URLSearchParams({ path, transfer: 'cross-node-1', offset: '0', size: String(data.length), sha256 });
    const up = await rawCall(b, 'PUT', `/api/v1/devices/${deviceId}/files/content?${query.toString()}`, { token: tokenB, body: data });
    expect(up.status, up.body.toString()).toBe(200);
    expect(readFileSync(path).equals(data)).toBe(true);
    const down = await rawCall(b, 'GET', `/api/v1/devices/${deviceId}/files/content?${new URLSearchParams({ path }).toString()}`, { token: tokenB });
    expect(down.status).toBe(200);
    expect(createHash('sha256').update(down.body).digest('hex')).toBe(sha256);
  });

  it('a console that reconnects through the other node takes its shell over: the same PTY, the output from where the console was, one end', async () => {
    const deviceId = agents[0]!.deviceId;
    const term = await ShellClient.open(b, tokenB, { deviceId, cols: 80, rows: 24 });
    term.type('MARK=moved-$((6*7))\r');
    await term.waitFor('MARK=moved-');
    await term.settled(300, 5_000);
    // Prints while no console is connected: the node taking over must get it from the agent.
    term.type('sleep 1; echo during-$((1+1))-gap\r');
    await term.waitFor('sleep 1');
    const offset = term.received;
    term.ws.terminate();
    await new Promise((resolve) => setTimeout(resolve, 1_500));

    const moved = await ShellClient.open(a, tokenA, { sessionId: term.sessionId, offset });
    expect(moved.opened).toMatchObject({ resumed: true, offset });
    await moved.waitFor('during-2-gap', 0, 10_000).catch((err: unknown) => {
      throw new Error(`${String(err)}\n--- node-a ---\n${a.proc.tail(20)}\n--- node-b ---\n${b.proc.tail(20)}`);
    });
    moved.type('echo mark=$MARK\r');
    await moved.waitFor('mark=moved-42');
    await b.proc.waitForLog((e) => e.msg === 'shell session taken over by another node' && e.sessionId === term.sessionId, 5_000);
    moved.type('exit 3\r');
    await moved.closed;
    expect(moved.ended).toMatchObject({ type: 'ended', exitCode: 3 });
    // One end, written by the node that took it over; node B's grace ran out on nothing.
    const sessions = (await api(b, 'GET', `/api/v1/shell/sessions?deviceId=${deviceId}`, { token: tokenB })).body as { sessions: Array<{ id: string; exitCode: number | null; endedAt: number | null; live: boolean }> };
    expect(sessions.sessions.find((x) => x.id === term.sessionId)).toMatchObject({ exitCode: 3, live: false, endedAt: expect.any(Number) as number });
    // A console without an offset cannot take over a session another node has: as before, SHELL_ENDED.
    const other = await ShellClient.open(b, tokenB, { deviceId, cols: 80, rows: 24 });
    await expect(ShellClient.open(a, tokenA, { sessionId: other.sessionId })).rejects.toMatchObject({ body: expect.stringContaining('SHELL_ENDED') as string });
    other.close();
  });

  it('a run started through node A and cancelled through node B ends cancelled, and its process on the device is killed', async () => {
    const deviceId = agents[0]!.deviceId;
    const dir = tempDir('cancel');
    homes.push(dir);
    const pidFile = join(dir, 'pid');
    const started = await api(a, 'POST', `/api/v1/devices/${deviceId}/commands`, { token: tokenA, body: { command: { shell: `echo $$ > '${pidFile}'; sleep 60` }, timeoutMs: 90_000 } });
    expect(started.status).toBe(200);
    const runId = (started.body as { id: string }).id;
    let pid = 0;
    await waitFor(() => {
      try {
        pid = Number(readFileSync(pidFile, 'utf8'));
      } catch {
        return false;
      }
      return pid > 0;
    }, 10_000, 'the command to start');
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(alive()).toBe(true);
    const cancelled = await api(b, 'POST', `/api/v1/runs/${runId}/cancel`, { token: tokenB });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ state: 'cancelled' });
    await waitFor(() => !alive(), 5_000, 'the process on the device killed');
    await waitFor(() => a.proc.count((e) => e.msg === 'run cancelled on another node' && e.runId === runId) === 1, 5_000, 'node A to let the run go');
    expect(((await api(a, 'GET', `/api/v1/runs/${runId}`, { token: tokenA })).body as { state: string }).state).toBe('cancelled');
  });

  it('revoking on node B disconnects the agent held by node A within a second', async () => {
    const victim = await enrolAndRun(a, tokenA, 'robot-2');
    agents.push(victim);
    await waitFor(async () => (await deviceOf(b, tokenB, victim.deviceId))?.online === true, 10_000, 'robot-2 online via node B');
    const before = Date.now();
    const res = await api(b, 'POST', `/api/v1/devices/${victim.deviceId}/revoke`, { token: tokenB });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'revoked' });
    const refused = await victim.proc.waitForLog((e) => e.msg === 'the backend refused this device', 5_000);
    expect(refused.code).toBe('DEVICE_REVOKED');
    expect(Number(refused.time) - before).toBeLessThan(1_000);
    expect(await victim.proc.exited).toBe(3);
    await waitFor(async () => (await deviceOf(a, tokenA, victim.deviceId))?.status === 'revoked', 5_000, 'revoked on node A');
    await waitFor(async () => (await deviceOf(b, tokenB, victim.deviceId))?.online === false, 5_000, 'offline via node B');
  });

  it('a log-out and a user\'s deletion on node A take effect on node B at once', async () => {
    const password = 'operator password 1';
    expect((await api(a, 'POST', '/api/v1/users', { token: tokenA, body: { username: 'operator1', password, role: 'operator' } })).status).toBe(200);
    const loginB = async () => ((await api(b, 'POST', '/api/v1/auth/login', { body: { username: 'operator1', password } })).body as { token: string }).token;
    const me = async (token: string) => (await api(b, 'GET', '/api/v1/auth/me', { token })).status;

    // Checked on B (so B trusts it from its cache for a few seconds), logged out through A.
    const first = await loginB();
    expect(await me(first)).toBe(200);
    expect((await api(a, 'POST', '/api/v1/auth/logout', { token: first })).status).toBeLessThan(300);
    await waitFor(async () => (await me(first)) === 401, 1_000, 'the log-out on A refused on B');

    // A console on B of a user deleted on A is closed.
    const second = await loginB();
    const ws = new WebSocket(new URL('/api/v1/console', b.url.replace('https:', 'wss:')).href, { ca: b.caCertPem, headers: { authorization: `Bearer ${second}` } });
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    await new Promise<void>((ok, fail) => {
      ws.once('open', () => ok());
      ws.once('error', fail);
    });
    const users = (await api(a, 'GET', '/api/v1/users', { token: tokenA })).body as { users: Array<{ id: number; username: string }> };
    const id = users.users.find((u) => u.username === 'operator1')?.id;
    const before = Date.now();
    expect((await api(a, 'DELETE', `/api/v1/users/${String(id)}`, { token: tokenA })).status).toBeLessThan(300);
    await closed;
    expect(Date.now() - before).toBeLessThan(1_000);
    expect(await me(second)).toBe(401);
  });

  it('after kill -9 of node A, its device reads offline on B within 30 s, B takes the lead, and the device comes back through B', async () => {
    const agent = agents[0]!;
    expect(b.proc.count((e) => e.msg === 'leading the cluster (rollups, retention, clean-up)')).toBe(0);
    // A run node A is running when it dies: nobody will ever end it but the new leader.
    const started = await api(a, 'POST', `/api/v1/devices/${agent.deviceId}/commands`, { token: tokenA, body: { command: { shell: 'sleep 120' }, timeoutMs: 180_000 } });
    const runId = (started.body as { id: string }).id;
    await waitFor(async () => ((await api(b, 'GET', `/api/v1/runs/${runId}`, { token: tokenB })).body as { state: string }).state === 'running', 10_000, 'the run to start');
    const killedAt = Date.now();
    await a.proc.stop('SIGKILL');
    await waitFor(async () => (await deviceOf(b, tokenB, agent.deviceId))?.online === false, 30_000, 'the device offline via node B');
    expect(Date.now() - killedAt).toBeLessThan(30_000);
    await b.proc.waitForLog((e) => e.msg === 'leading the cluster (rollups, retention, clean-up)', 30_000);
    expect(Date.now() - killedAt).toBeLessThan(30_000);
    // The leader ends the dead node's run once the node's heartbeat is gone (TTL 20 s + 5 s grace).
    await waitFor(async () => ((await api(b, 'GET', `/api/v1/runs/${runId}`, { token: tokenB })).body as { state: string }).state === 'cancelled', 45_000, 'the dead node\'s run ended by the leader');
    expect((await api(b, 'GET', `/api/v1/runs/${runId}`, { token: tokenB })).body).toMatchObject({ state: 'cancelled', error: 'The backend node running it stopped' });
    globalThis.console.log(`two nodes: node A's run ended by the leader ${Date.now() - killedAt} ms after the kill`);

    // The agent knows one backend URL (HAProxy's, in production); here it is restarted pointed at node B.
    await agent.proc.stop();
    const stateFile = join(agent.stateDir, 'state.json');
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { backendUrl: string };
    writeFileSync(stateFile, JSON.stringify({ ...state, backendUrl: b.url }));
    agent.proc = startAgent(agent.stateDir, {}, 'robot-1 via B');
    await waitFor(async () => (await deviceOf(b, tokenB, agent.deviceId))?.online === true, 30_000, 'the device back online via node B');
    const console = await openConsole(b, tokenB);
    try {
      expect(await console.request(agent.deviceId, 'system.echo', { payload: 'home again' })).toMatchObject({ ok: true, result: { payload: 'home again' } });
    } finally {
      console.close();
    }
  });
});
