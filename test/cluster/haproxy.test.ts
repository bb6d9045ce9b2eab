import { cpSync } from 'node:fs';
import { connect as connectTcp, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { request as httpsRequest } from 'node:https';
import { connect as connectTls } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, cleanup, createToken, deviceOf, enrolAndRun, login, openConsole, startBackend, tempDir, waitFor, type Backend, type Proc } from '../harness.js';
import { freePort } from '../bus/private-nats.js';
import { dropPrefix, TEST_NATS_URL, testNats, testPrefix } from '../bus/test-nats.js';
import { ShellClient } from '../shell-client.js';
import { createTestDatabase } from '../store/test-database.js';
import { HAPROXY_SOURCE, requireHaproxy, serverStats, startHaproxy } from './haproxy-harness.js';

/** The name agents would dial in production: every node's certificate must cover it. */
const PUBLIC_HOST = 'fleet.tether.test';
const NODE_NAMES = ['node-a', 'node-b', 'node-c'] as const;
/** Clients reach HAProxy from 127.0.0.2; HAProxy connects to the nodes from {@link HAPROXY_SOURCE}. */
const CLIENT_ADDRESS = '127.0.0.2';

/**
 * A TCP relay from a port of its own to NATS, one per node: cutting it takes that node's NATS
 * away (its /readyz turns red with BUS_UNAVAILABLE) while the node itself keeps running.
 */
class NatsRelay {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();

  constructor(readonly port: number, private readonly target: URL) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async open(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connectTcp(Number(this.target.port || 4222), this.target.hostname);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Whether `node` holds the device's control channel: its last word on the device is `device connected`. */
function holds(node: Backend, deviceId: string): boolean {
  const last = node.proc.json().filter((e) => e.deviceId === deviceId && (e.msg === 'device connected' || e.msg === 'device disconnected')).at(-1);
  return last?.msg === 'device connected';
}

/** A wrong password for `username` from `localAddress`; resolves the status. */
function failedLoginFrom(url: string, ca: string, localAddress: string, username: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ username, password: 'not-the-password' });
    const req = httpsRequest(new URL('/api/v1/auth/login', url), { method: 'POST', ca, localAddress, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('no answer in 10 s')));
    req.end(body);
  });
}

/** Completes a TLS handshake to host:port as a client dialling `servername`, trusting only `ca`; resolves the peer certificate's fingerprint. */
function tlsFingerprint(port: number, servername: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connectTls({ host: '127.0.0.1', port, servername, ca }, () => {
      const fingerprint = socket.getPeerX509Certificate()?.fingerprint256 ?? '';
      socket.end();
      resolve(fingerprint);
    });
    socket.on('error', reject);
    socket.setTimeout(5_000, () => socket.destroy(new Error('TLS handshake timed out')));
  });
}

/**
 * Three real `tether-backend serve` nodes (one PostgreSQL, one NATS, B and C started on a copy of
 * A's pki/) behind a real HAProxy running the shipped build/cluster/haproxy.cfg. Agents enrol and
 * run through HAProxy's address only, as they would in production.
 */
describe('a cluster of three nodes behind HAProxy', () => {
  let database: { url: string; drop(): Promise<void> } | undefined;
  const prefix = testPrefix();
  const nodes: Backend[] = [];
  const relays = new Map<string, NatsRelay>();
  const agents: Array<{ proc: Proc; stateDir: string; deviceId: string; label: string }> = [];
  const dirs: string[] = [];
  let haproxy: Proc | undefined;
  let statsSocket = '';
  let lbPort = 0;
  /** HAProxy's address as a backend for the harness: what agents register with and dial. */
  let lb: Backend;
  let token = '';
  let killed: Backend | undefined;
  let killedAt = 0;

  const nameOf = (node: Backend) => NODE_NAMES[nodes.indexOf(node)] ?? '?';

  beforeAll(async () => {
    requireHaproxy();
    // Both fail with how to start the server when it is not running.
    await (await testNats()).close();
    database = await createTestDatabase();
    lbPort = await freePort();
    for (const name of NODE_NAMES) {
      const relay = new NatsRelay(await freePort(), new URL(TEST_NATS_URL));
      await relay.open();
      relays.set(name, relay);
      const home = tempDir('backend');
      dirs.push(home);
      if (nodes[0]) cpSync(join(nodes[0].home, 'pki'), join(home, 'pki'), { recursive: true });
      nodes.push(await startBackend({
        home,
        env: { TETHER_DATABASE_URL: database.url, TETHER_NATS_URL: relay.url, TETHER_NATS_PREFIX: prefix, TETHER_NODE_ID: name, TETHER_PUBLIC_URL: `https://${PUBLIC_HOST}:${lbPort}`, TETHER_PROXY_PROTOCOL_FROM: HAPROXY_SOURCE },
      }));
    }

    const dir = tempDir('haproxy');
    dirs.push(dir);
    const started = await startHaproxy({ dir, port: lbPort, servers: Object.fromEntries(NODE_NAMES.map((name, i) => [name, nodes[i]?.port ?? 0])) });
    haproxy = started.proc;
    statsSocket = started.statsSocket;

    const a = nodes[0]!;
    lb = { ...a, url: `https://127.0.0.1:${lbPort}`, port: lbPort };
    token = await login(lb);
  });

  // Runs whatever part of the file ran: nothing is left behind.
  afterAll(async () => {
    for (const agent of agents) await agent.proc.stop();
    await haproxy?.stop();
    await Promise.all(nodes.map((node) => node.proc.stop()));
    for (const relay of relays.values()) await relay.cut();
    await database?.drop();
    await dropPrefix(prefix);
    cleanup(...dirs, ...agents.map((x) => x.stateDir));
  });

  it('passes TLS through: every node presents a certificate of the cluster CA valid for the public name', async () => {
    const a = nodes[0]!;
    const direct = new Set<string>();
    for (const node of nodes) {
      expect(node.caPin).toBe(a.caPin);
      direct.add(await tlsFingerprint(node.port, PUBLIC_HOST, a.caCertPem));
    }
    // HAProxy does not terminate TLS: what the client sees is a node's own certificate.
    for (let i = 0; i < 3; i++) expect(direct).toContain(await tlsFingerprint(lbPort, PUBLIC_HOST, a.caCertPem));
    await expect(tlsFingerprint(lbPort, 'not-the-public-name.test', a.caCertPem)).rejects.toThrow(/altnames|ERR_TLS_CERT_ALTNAME_INVALID/i);
  });

  it('nodes see the client\'s address through HAProxy (PROXY protocol v2), their own peers\' directly, and refuse HAProxy\'s address without a header', async () => {
    const a = nodes[0]!;
    const auditIps = async (username: string) => {
      const res = await api(lb, 'GET', `/api/v1/audit?action=auth.login.failed&actor=${encodeURIComponent(`user:${username}`)}`, { token });
      return (res.body as { entries: Array<{ details: { ip?: string } }> }).entries.map((e) => e.details.ip);
    };
    // Through HAProxy from 127.0.0.2: HAProxy itself connects from 127.0.0.3.
    expect(await failedLoginFrom(lb.url, a.caCertPem, CLIENT_ADDRESS, 'through-haproxy')).toBe(401);
    expect(await auditIps('through-haproxy')).toEqual([CLIENT_ADDRESS]);
    // Straight to a node from 127.0.0.1, not a PROXY source: its own address, nothing parsed.
    expect(await failedLoginFrom(a.url, a.caCertPem, '127.0.0.1', 'direct')).toBe(401);
    expect(await auditIps('direct')).toEqual(['127.0.0.1']);
    // From HAProxy's address without a header: closed before TLS, and the node says why.
    const from = a.proc.json().length;
    await expect(failedLoginFrom(a.url, a.caCertPem, HAPROXY_SOURCE, 'no-header')).rejects.toThrow();
    const refused = await a.proc.waitForLog((e) => e.code === 'PROXY_HEADER_INVALID', 5_000, from);
    expect(String(refused.peer)).toMatch(/^127\.0\.0\.3:\d+$/);
    expect(await auditIps('no-header')).toEqual([]);
  });

  it('agents enrolled and connected through HAProxy show online on every node', async () => {
    for (let i = 1; i <= 4; i++) agents.push({ ...(await enrolAndRun(lb, token, `robot-${i}`)), label: `robot-${i}` });
    for (const agent of agents) {
      const holders = nodes.filter((node) => holds(node, agent.deviceId));
      expect(holders, `${agent.label} held by exactly one node`).toHaveLength(1);
      for (const node of nodes) {
        await waitFor(async () => (await deviceOf(node, token, agent.deviceId))?.online === true, 10_000, `${agent.label} online via ${nameOf(node)}`);
      }
    }
    console.log(`haproxy: devices per node after enrolment: ${nodes.map((node) => `${nameOf(node)}=${agents.filter((x) => holds(node, x.deviceId)).length}`).join(' ')}`);
  });

  it('a job created on one node runs on devices spread over all the nodes, each run with its output', async () => {
    const spread = new Set(agents.map((agent) => nameOf(nodes.find((node) => holds(node, agent.deviceId))!)));
    expect(spread.size, 'devices held by more than one node').toBeGreaterThan(1);
    const created = await api(nodes[0]!, 'POST', '/api/v1/jobs', { token, body: { selection: { deviceIds: agents.map((agent) => agent.deviceId) }, command: { shell: 'echo ran-$((40+2))' } } });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const id = (created.body as { id: string }).id;
    let job: { state: string; runs: Array<{ deviceId: string; state: string; stdout: string }> } = { state: 'running', runs: [] };
    await waitFor(async () => {
      job = (await api(nodes[1]!, 'GET', `/api/v1/jobs/${id}`, { token })).body as typeof job;
      return job.state === 'completed';
    }, 30_000, 'the job to complete');
    expect(job.runs.map((run) => run.deviceId).sort()).toEqual(agents.map((agent) => agent.deviceId).sort());
    for (const run of job.runs) expect(run).toMatchObject({ state: 'succeeded', stdout: 'ran-42\n' });
  });

  it('after kill -9 of the node holding an agent, its agents reconnect through HAProxy to the other nodes within 30 s, a shell open through another node goes on in the same PTY, so does one whose console was on the dead node, and a job in progress completes', async () => {
    const first = agents[0]!;
    const victim = nodes.find((node) => holds(node, first.deviceId));
    if (!victim) throw new Error('no node holds robot-1');
    killed = victim;
    const survivors = nodes.filter((node) => node !== victim);
    const moving = agents.filter((agent) => holds(victim, agent.deviceId));
    const logFrom = new Map(moving.map((agent) => [agent, agent.proc.json().length]));

    // An operator's shell on robot-1 through a console on a surviving node.
    const consoleNode = survivors[0]!;
    const term = await ShellClient.open(consoleNode, token, { deviceId: first.deviceId, cols: 80, rows: 24 });
    term.type('MARK=kept-$((6*7))\r');
    await term.waitFor('MARK=kept-', 0, 10_000);
    // And one whose console is on the node about to die, as HAProxy may have placed it.
    const orphaned = await ShellClient.open(victim, token, { deviceId: first.deviceId, cols: 80, rows: 24 });
    orphaned.type('ORPHAN=kept-$((7*6))\r');
    await orphaned.waitFor('ORPHAN=kept-', 0, 10_000);
    await orphaned.settled(300, 5_000);

    // A job in progress through the same surviving node, on every device: it prints for ~8 s.
    const ticks = Array.from({ length: 16 }, (_, i) => `tick-${i + 1}\n`).join('');
    const created = await api(consoleNode, 'POST', '/api/v1/jobs', { token, body: { selection: { deviceIds: agents.map((agent) => agent.deviceId) }, command: { shell: 'for i in $(seq 1 16); do echo tick-$i; sleep 0.5; done' } } });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const jobId = (created.body as { id: string }).id;
    type JobView = { state: string; runs: Array<{ deviceId: string; state: string; stdout: string; error: string | null }> };
    const jobView = async () => (await api(consoleNode, 'GET', `/api/v1/jobs/${jobId}`, { token })).body as JobView;
    await waitFor(async () => (await jobView()).runs.every((run) => run.stdout.includes('tick-1')), 15_000, 'every run to print');

    killedAt = Date.now();
    await victim.proc.stop('SIGKILL');
    const times: string[] = [];
    for (const agent of moving) {
      const connected = await agent.proc.waitForLog((e) => e.msg === 'connected', 30_000, logFrom.get(agent));
      const agentMs = Number(connected.time) - killedAt;
      // The survivors share the session-ticket keys (derived from the CA key): no full handshake.
      expect(connected.tlsResumed, `${agent.label} resumed its TLS session on another node`).toBe(true);
      await waitFor(() => survivors.some((node) => holds(node, agent.deviceId)), 30_000, `${agent.label} held by a surviving node`);
      const holder = survivors.find((node) => holds(node, agent.deviceId))!;
      const other = survivors.find((node) => node !== holder)!;
      // Reachable from the other survivor (through NATS to the new holder), not only listed online.
      const console = await openConsole(other, token);
      try {
        // The other survivor may still have the dead node as the holder until the new holder's presence write reaches it.
        let answer: Awaited<ReturnType<typeof console.request>> | undefined;
        await waitFor(async () => (answer = await console.request(agent.deviceId, 'system.echo', { payload: 'back' })).ok, 30_000, `${agent.label} answering via ${nameOf(other)}`)
          .catch((err: unknown) => {
            throw new Error(`${String(err)}: last answer ${JSON.stringify(answer)}`);
          });
        expect(answer).toMatchObject({ ok: true, result: { payload: 'back' } });
      } finally {
        console.close();
      }
      const reachableMs = Date.now() - killedAt;
      expect((await deviceOf(other, token, agent.deviceId))?.online).toBe(true);
      expect(reachableMs).toBeLessThan(30_000);
      times.push(`${agent.label}: connected to ${nameOf(holder)} after ${agentMs} ms, answering via ${nameOf(other)} after ${reachableMs} ms`);
    }

    // The shell: the console's node reattached the PTY through robot-1's new holder.
    const from = term.received;
    await waitFor(async () => {
      term.type('echo mark=$MARK\r');
      await new Promise((resolve) => setTimeout(resolve, 300));
      return term.text(from).includes('mark=kept-42');
    }, 30_000, 'the shell to answer after the kill').catch((err: unknown) => {
      throw new Error(`${String(err)}\n${survivors.map((node) => `--- ${nameOf(node)}${node === consoleNode ? ' (console)' : ''} ---\n${node.proc.tail(30)}`).join('\n')}\n--- robot-1 ---\n${first.proc.tail(20)}`);
    });
    const shellMs = Date.now() - killedAt;
    expect(term.ended).toBeNull();

    // The console whose node died reconnects through a survivor, which takes the session over.
    const adopted = await ShellClient.open(survivors[1]!, token, { sessionId: orphaned.sessionId, offset: orphaned.received });
    await waitFor(async () => {
      adopted.type('echo orphan=$ORPHAN\r');
      await new Promise((resolve) => setTimeout(resolve, 300));
      return adopted.text().includes('orphan=kept-42');
    }, 30_000, 'the taken-over shell to answer');
    const adoptedMs = Date.now() - killedAt;
    adopted.type('exit 0\r');
    await adopted.closed;
    expect(adopted.ended).toMatchObject({ type: 'ended', exitCode: 0 });
    term.type('exit 0\r');
    await term.closed;
    expect(term.ended).toMatchObject({ type: 'ended', exitCode: 0 });

    // The job: runs on the moved devices were reattached through their new holders; every line once.
    let job: JobView = { state: 'running', runs: [] };
    await waitFor(async () => (job = await jobView()).state !== 'running', 60_000, 'the job to end');
    const logsSinceKill = () => survivors.map((node) => `--- ${nameOf(node)} ---\n${node.proc.json().filter((e) => Number(e.time) >= killedAt && !String(e.msg).includes('request')).slice(-40).map((e) => JSON.stringify(e)).join('\n')}`).join('\n');
    expect(job.state).toBe('completed');
    for (const run of job.runs) expect(run, `the run on ${run.deviceId}\n${logsSinceKill()}`).toMatchObject({ state: 'succeeded', stdout: ticks, error: null });
    const jobMs = Date.now() - killedAt;
    console.log(`haproxy: kill -9 of ${nameOf(victim)} (held ${moving.length} of ${agents.length} devices; aim 10 s):\n  ${times.join('\n  ')}\n  shell on robot-1 through ${nameOf(consoleNode)}: same PTY answering after ${shellMs} ms\n  shell on robot-1 whose console was on ${nameOf(victim)}: taken over by ${nameOf(survivors[1]!)}, same PTY answering after ${adoptedMs} ms\n  job over ${job.runs.length} devices: completed, every run whole, ${jobMs} ms after the kill`);
  });

  it('HAProxy takes the dead node out, and an agent registers and runs through it while one node is dead', async () => {
    const victim = killed;
    if (!victim) throw new Error('the kill -9 case did not run');
    await waitFor(async () => (await serverStats(statsSocket)).get(nameOf(victim))?.status === 'DOWN', 15_000, `${nameOf(victim)} DOWN in HAProxy`);
    const seenDownMs = Date.now() - killedAt;
    // Out because nothing answers on its port any more (L4CON: connection refused).
    const stat = (await serverStats(statsSocket)).get(nameOf(victim));
    expect(stat?.checkStatus).toMatch(/^L4/);
    console.log(`haproxy: ${nameOf(victim)} seen DOWN (${stat?.checkStatus ?? '?'}) ${seenDownMs} ms after its kill -9`);

    const fresh = { ...(await enrolAndRun(lb, token, 'robot-5')), label: 'robot-5' };
    agents.push(fresh);
    expect(holds(victim, fresh.deviceId)).toBe(false);
    for (const node of nodes.filter((x) => x !== victim)) {
      await waitFor(async () => (await deviceOf(node, token, fresh.deviceId))?.online === true, 10_000, `robot-5 online via ${nameOf(node)}`);
    }
    // A plain token round trip through HAProxy lands on a live node.
    expect(await createToken(lb, token)).toMatch(/.+/);
  });

  it('HAProxy takes out a running node whose /readyz is red, and puts it back once it is green', async () => {
    const victim = killed;
    if (!victim) throw new Error('the kill -9 case did not run');
    const sick = nodes.find((node) => node !== victim)!;
    const name = nameOf(sick);
    const relay = relays.get(name)!;
    await relay.cut();
    await waitFor(async () => (await api(sick, 'GET', '/readyz')).status === 503, 15_000, `${name} /readyz red`);
    expect((await api(sick, 'GET', '/readyz')).body).toMatchObject({ code: 'BUS_UNAVAILABLE' });
    await waitFor(async () => (await serverStats(statsSocket)).get(name)?.status === 'DOWN', 15_000, `${name} DOWN in HAProxy`);
    // Out on its answer (HTTP 503), not on its port: the node still accepts connections.
    expect((await serverStats(statsSocket)).get(name)).toMatchObject({ checkStatus: 'L7STS', checkCode: '503' });
    expect((await api(sick, 'GET', '/healthz')).status).toBe(200);

    await relay.open();
    await waitFor(async () => (await serverStats(statsSocket)).get(name)?.status === 'UP', 30_000, `${name} UP again in HAProxy`);
    // Its agents were cut when it went DOWN (on-marked-down shutdown-sessions); all are back on live nodes.
    const live = nodes.filter((node) => node !== victim);
    for (const agent of agents) {
      for (const node of live) {
        await waitFor(async () => (await deviceOf(node, token, agent.deviceId))?.online === true, 30_000, `${agent.label} online via ${nameOf(node)}`);
      }
    }
  });
});
