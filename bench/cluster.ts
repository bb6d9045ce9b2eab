import { fork, type ChildProcess } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { connect as connectNats, type KvEntry, type NatsConnection, type QueuedIterator } from 'nats';
import { parsePayload, PresenceValue } from '../backend/cluster/bus-messages.js';
import { openPostgres } from '../backend/store/postgres/pool.js';
import type { JobDetail, JobList } from '../protocol/index.js';
import { freePort } from '../test/bus/private-nats.js';
import { dropPrefix, TEST_NATS_URL, testNats, testPrefix } from '../test/bus/test-nats.js';
import { HAPROXY_SOURCE, requireHaproxy, sessionServers, startHaproxy } from '../test/cluster/haproxy-harness.js';
import { api, cleanup, enrolAndRun, login, openConsole, ROOT, startBackend, tempDir, waitFor, type Backend, type Proc } from '../test/harness.js';
import { ShellClient } from '../test/shell-client.js';
import { duplicateSamples, postgresSamples } from '../test/stored-samples.js';
import { createTestDatabase } from '../test/store/test-database.js';
import { percentile, progress } from './fleet.js';

const NODE_NAMES = ['node-a', 'node-b', 'node-c'] as const;
const WARMUP = 200;
const PAYLOAD = 'x'.repeat(64);
/** Real agents sample this often, so a kill falls between many acked batches. */
const REAL_AGENT_ENV = { TETHER_TELEMETRY_INTERVAL_MS: '250', TETHER_JOURNAL: '0', TETHER_SHELL: '/bin/sh', PS1: '$ ' };

type Console = Awaited<ReturnType<typeof openConsole>>;
interface RealAgent { proc: Proc; stateDir: string; deviceId: string }

/** What a bench fleet process needs of a backend (or of HAProxy in front of a cluster). */
function fleetTarget(backend: Pick<Backend, 'url' | 'caPin' | 'caCertPem' | 'home' | 'port'>): Pick<Backend, 'url' | 'caPin' | 'caCertPem' | 'home' | 'port'> {
  return { url: backend.url, caPin: backend.caPin, caCertPem: backend.caCertPem, home: backend.home, port: backend.port };
}

/** Simulated devices in a process of their own (bench/fleet-process.ts); resolves their ids once all are connected. */
async function startFleet(children: ChildProcess[], backend: Pick<Backend, 'url' | 'caPin' | 'caCertPem' | 'home' | 'port'>, count: number): Promise<string[]> {
  const child = fork(join(ROOT, 'bench', 'fleet-process.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('message', (m: { deviceIds: string[] }) => resolve(m.deviceIds));
    child.once('exit', (code) => reject(new Error(`fleet process exited (${String(code)}) before its devices were connected`)));
    child.send({ backend: fleetTarget(backend), count, behaviour: 'runner' });
  });
}

/**
 * The cluster's presence bucket (device → holding node), followed from its current state on: the
 * view every node mirrors to decide where a device is and whether it is online.
 */
class PresenceWatch {
  readonly holders = new Map<string, string>();
  /** Called on every write of a device's entry with its new holder. */
  onHolder: (deviceId: string, node: string) => void = () => undefined;

  private constructor(private readonly nc: NatsConnection, private readonly watcher: QueuedIterator<KvEntry>) {}

  static async open(prefix: string): Promise<PresenceWatch> {
    const nc = await connectNats({ servers: TEST_NATS_URL, timeout: 3_000 });
    try {
      const kv = await nc.jetstream().views.kv(`${prefix}-presence`, { bindOnly: true });
      let loaded: () => void = () => undefined;
      const initialized = new Promise<void>((resolve) => (loaded = resolve));
      const watch = new PresenceWatch(nc, await kv.watch({ initializedFn: () => loaded() }));
      void (async () => {
        for await (const entry of watch.watcher) watch.apply(entry);
      })();
      await initialized;
      return watch;
    } catch (err) {
      await nc.close();
      throw err;
    }
  }

  private apply(entry: KvEntry): void {
    if (entry.operation !== 'PUT') {
      this.holders.delete(entry.key);
      return;
    }
    const value = parsePayload(PresenceValue, entry.value);
    if (!value) return;
    this.holders.set(entry.key, value.node);
    this.onHolder(entry.key, value.node);
  }

  /** Device ids per holding node. */
  byNode(ids: readonly string[]): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const id of ids) {
      const node = this.holders.get(id) ?? '?';
      const list = out.get(node) ?? [];
      list.push(id);
      out.set(node, list);
    }
    return out;
  }

  async close(): Promise<void> {
    this.watcher.stop();
    await this.nc.close();
  }
}

/** Source ports of a process's IPv4 TCP connections to `port`, from /proc (its socket inodes matched in its net/tcp table). */
function sourcePortsTo(pid: number, port: number): number[] {
  const inodes = new Set(readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
    try {
      return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1] ?? [];
    } catch {
      return [];
    }
  }));
  return readFileSync(`/proc/${pid}/net/tcp`, 'utf8').split('\n').slice(1).flatMap((line) => {
    const [, local = '', remote = '', , , , , , , inode = ''] = line.trim().split(/\s+/);
    return inodes.has(inode) && parseInt(remote.split(':')[1] ?? '', 16) === port ? [parseInt(local.split(':')[1] ?? '', 16)] : [];
  });
}

async function echoMs(console: Console, deviceId: string): Promise<number> {
  const started = performance.now();
  const answer = await console.request(deviceId, 'system.echo', { payload: PAYLOAD });
  if (!answer.ok) throw new Error(`echo to ${deviceId} failed: ${JSON.stringify(answer.error)}`);
  return performance.now() - started;
}

const pick = (ids: readonly string[]): string => ids[Math.floor(Math.random() * ids.length)] ?? '';
const round = (n: number) => Math.round(n * 1000) / 1000;

/** Up to `count` ids taken in turn from each node's list, so the selection spans every node evenly. */
function interleave(lists: readonly string[][], count: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count && lists.some((list) => i < list.length); i++) {
    for (const list of lists) if (i < list.length && out.length < count) out.push(list[i] ?? '');
  }
  return out;
}

/** Runs a job over `deviceIds` created through `node`; resolves when it is no longer running. */
async function runJob(node: Backend, token: string, deviceIds: string[]): Promise<{ ms: number; succeeded: number }> {
  const t0 = performance.now();
  const res = await api(node, 'POST', '/api/v1/jobs', { token, body: { selection: { deviceIds }, command: { shell: 'uname -a' }, concurrency: deviceIds.length, timeoutMs: 120_000 } });
  if (res.status !== 200) throw new Error(`job create: ${res.status} ${JSON.stringify(res.body)}`);
  const id = (res.body as JobDetail).id;
  const deadline = Date.now() + 180_000;
  for (;;) {
    const list = (await api(node, 'GET', '/api/v1/jobs?limit=1', { token })).body as JobList;
    const job = list.jobs.find((j) => j.id === id);
    if (job && job.state !== 'running') break;
    if (Date.now() > deadline) throw new Error('the fan-out job did not end in 180 s');
    await new Promise((r) => setTimeout(r, 25));
  }
  const ms = performance.now() - t0;
  const done = (await api(node, 'GET', `/api/v1/jobs/${id}`, { token })).body as JobDetail;
  const failed = done.runs.filter((run) => run.state !== 'succeeded');
  if (failed.length > 0) process.stderr.write(`cluster fan-out: ${failed.length} runs not succeeded, e.g. ${JSON.stringify(failed.slice(0, 3).map((r) => [r.state, r.error]))}\n`);
  return { ms, succeeded: done.counts.succeeded ?? 0 };
}

/**
 * Acked telemetry of a real agent against what the cluster's database holds, with the agent
 * paused (SIGSTOP) so both sides are read at one moment. Acked = every seq the agent numbered
 * (telemetry.seq) and no longer holds in its spool. Each batch carries one `uptime` sample, so
 * a batch acked but not stored, or stored without its sample, is a lost sample; a (metric,
 * time) stored twice is a duplicate. The agent numbers a batch just before it spools it: paused
 * in between, that batch would read as acked, so a count with losses is taken again after
 * letting the agent run a moment (a real loss stays).
 */
async function checkSamples(agent: RealAgent, databaseUrl: string): Promise<{ batches: number; lost: number; duplicates: number }> {
  const pid = agent.proc.child.pid ?? 0;
  const postgres = await openPostgres({ url: databaseUrl, max: 2 });
  try {
    let counted = { batches: 0, lost: 0, duplicates: 0 };
    for (let attempt = 0; attempt < 3 && (attempt === 0 || counted.lost > 0); attempt++) {
      process.kill(pid, 'SIGSTOP');
      try {
        await new Promise((r) => setTimeout(r, 1_000));
        const numbered = Number(readFileSync(join(agent.stateDir, 'telemetry.seq'), 'utf8'));
        const spooled = new Set(readdirSync(join(agent.stateDir, 'spool')).flatMap((f) => /^(\d+)-\d+\.json(?:\.tmp)?$/.exec(f)?.[1] ?? []).map(Number));
        const acked = Array.from({ length: numbered }, (_, seq) => seq).filter((seq) => !spooled.has(seq));
        const stored = new Set((await postgres.db.selectFrom('telemetry_batches').select('seq').where('device_id', '=', agent.deviceId).execute()).map((r) => r.seq));
        const samples = await postgresSamples(databaseUrl, agent.deviceId);
        const uptimes = new Set(samples.filter((s) => s.name === 'uptime').map((s) => s.ts)).size;
        const notStored = acked.filter((seq) => !stored.has(seq)).length;
        counted = { batches: acked.length, lost: notStored + Math.max(0, stored.size - uptimes), duplicates: duplicateSamples(samples) };
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      if (counted.lost > 0) await new Promise((r) => setTimeout(r, 300));
    }
    return counted;
  } finally {
    await postgres.close();
  }
}

/**
 * `cluster` (issue #17): three nodes behind the shipped HAProxy configuration on one PostgreSQL
 * and one NATS, against a single node on its own PostgreSQL measured in the same run.
 *
 * - Agents: simulated (bench/fleet-process.ts, the real ControlClient) dialling HAProxy, which
 *   spreads them (leastconn); the single node gets as many (BENCH_CLUSTER_AGENTS, default 3,000;
 *   BENCH_CLUSTER_BASELINE_AGENTS). A few real `tether-agent` processes (BENCH_CLUSTER_REAL_AGENTS,
 *   default 6) join the cluster for telemetry and a shell.
 * - RTT: sequential `system.echo` from a console socket, alternating between the single node and
 *   a node that does not hold the device (so through NATS to its holder), p99 of
 *   BENCH_CLUSTER_RTT_SAMPLES (default 5,000) each; crossNodeRttRatio is their quotient. The
 *   same node's own devices, sampled in turn with them, give sameNodeRttP99Ms for reference.
 * - fanout1000Ms: a job created on one node over 1,000 devices (BENCH_CLUSTER_FANOUT) taken from
 *   every node in turn, until every run is final (canned runner, as bench/fanout.ts); the same
 *   job on the single node gives singleNodeFanout1000Ms.
 * - failoverAllBackMs: `kill -9` of a node holding real agents (the one HAProxy relays the most
 *   real agents' connections to, control and telemetry), until each of its
 *   devices is held by a surviving node in the presence bucket (what every node mirrors; a
 *   survivor's API reads them online throughout, since their old entries live ~20 s), then
 *   checked answering `system.echo` through a survivor (failoverAnswering); failoverHalfBackMs
 *   is when half of them were back.
 * - loadAverage: the 1-minute load before the run (the machine's own), then after the RTT and
 *   failover phases (the run's).
 * - shellResumed: a shell on a real agent of the killed node, opened through another node before
 *   the kill, answers `echo $MARK` with the value set before it.
 * - lostSamples, duplicateSamples: the real agents' acked telemetry against the database (see
 *   checkSamples); realTelemetryMoved says how many of their telemetry sockets the kill cut.
 */
export async function cluster(): Promise<Record<string, number>> {
  const agents = Number(process.env.BENCH_CLUSTER_AGENTS ?? 3_000);
  const baselineAgents = Number(process.env.BENCH_CLUSTER_BASELINE_AGENTS ?? agents);
  const fanoutCount = Math.min(agents, Number(process.env.BENCH_CLUSTER_FANOUT ?? 1_000));
  const realCount = Math.max(1, Number(process.env.BENCH_CLUSTER_REAL_AGENTS ?? 6));
  const samples = Number(process.env.BENCH_CLUSTER_RTT_SAMPLES ?? 5_000);
  const failoverTimeoutMs = Number(process.env.BENCH_CLUSTER_FAILOVER_TIMEOUT_MS ?? 120_000);
  const loadAverage = round(loadavg()[0] ?? NaN);

  requireHaproxy();
  await (await testNats()).close();
  const prefix = testPrefix();
  const databases: Array<{ url: string; drop(): Promise<void> }> = [];
  const dirs: string[] = [];
  const backends: Backend[] = [];
  const fleets: ChildProcess[] = [];
  const realAgents: RealAgent[] = [];
  const consoles: Console[] = [];
  let haproxy: Proc | undefined;
  let presence: PresenceWatch | undefined;
  let term: ShellClient | undefined;
  try {
    // The single node: PostgreSQL of its own, no NATS.
    const singleDb = await createTestDatabase();
    databases.push(singleDb);
    const single = await startBackend({ env: { TETHER_DATABASE_URL: singleDb.url } });
    backends.push(single);
    dirs.push(single.home);

    // The cluster: one database, one NATS prefix, the PKI of node-a copied to the others, HAProxy in front.
    const clusterDb = await createTestDatabase();
    databases.push(clusterDb);
    const lbPort = await freePort();
    const lbUrl = `https://127.0.0.1:${lbPort}`;
    const nodes: Backend[] = [];
    for (const name of NODE_NAMES) {
      const home = tempDir('bench-node');
      dirs.push(home);
      if (nodes[0]) cpSync(join(nodes[0].home, 'pki'), join(home, 'pki'), { recursive: true });
      const node = await startBackend({
        home,
        env: { TETHER_DATABASE_URL: clusterDb.url, TETHER_NATS_URL: TEST_NATS_URL, TETHER_NATS_PREFIX: prefix, TETHER_NODE_ID: name, TETHER_PUBLIC_URL: lbUrl, TETHER_PROXY_PROTOCOL_FROM: HAPROXY_SOURCE },
      });
      nodes.push(node);
      backends.push(node);
    }
    const nameOf = (node: Backend) => NODE_NAMES[nodes.indexOf(node)] ?? '?';
    const haproxyDir = tempDir('bench-haproxy');
    dirs.push(haproxyDir);
    const balancer = await startHaproxy({ dir: haproxyDir, port: lbPort, servers: Object.fromEntries(NODE_NAMES.map((name, i) => [name, nodes[i]?.port ?? 0])) });
    haproxy = balancer.proc;
    const statsSocket = balancer.statsSocket;
    const a = nodes[0]!;
    const lb: Backend = { ...a, url: lbUrl, port: lbPort };
    const token = await login(lb);
    presence = await PresenceWatch.open(prefix);
    const watch = presence;

    // Real agents first: with every node empty, leastconn deals their connections round the nodes.
    for (let i = 0; i < realCount; i++) {
      const agent = await enrolAndRun(lb, token, `real-${i}`, REAL_AGENT_ENV);
      realAgents.push(agent);
      dirs.push(agent.stateDir);
    }
    process.stderr.write(`cluster: single node, ${baselineAgents} simulated agents\n`);
    const singleIds = await startFleet(fleets, single, baselineAgents);
    process.stderr.write(`cluster: three nodes behind HAProxy, ${agents} simulated agents\n`);
    const clusterIds = await startFleet(fleets, lb, agents);
    const everyId = [...clusterIds, ...realAgents.map((x) => x.deviceId)];
    await waitFor(() => everyId.every((id) => watch.holders.has(id)), 60_000, 'every cluster device in the presence bucket');
    const spread = watch.byNode(clusterIds);
    process.stderr.write(`cluster: devices per node ${NODE_NAMES.map((name) => `${name}=${spread.get(name)?.length ?? 0}`).join(' ')}; real agents on ${realAgents.map((x) => watch.holders.get(x.deviceId)).join(', ')}\n`);

    // RTT: the single node, and node-a for devices other nodes hold (and, for reference, its own).
    const singleConsole = await openConsole(single, await login(single));
    const viaA = await openConsole(a, token);
    consoles.push(singleConsole, viaA);
    const remoteIds = clusterIds.filter((id) => watch.holders.get(id) !== 'node-a');
    const localIds = clusterIds.filter((id) => watch.holders.get(id) === 'node-a');
    const singleTimes: number[] = [];
    const crossTimes: number[] = [];
    const localTimes: number[] = [];
    for (let i = 0; i < WARMUP + samples; i++) {
      const s = await echoMs(singleConsole, pick(singleIds));
      const c = await echoMs(viaA, pick(remoteIds));
      const l = localIds.length > 0 ? await echoMs(viaA, pick(localIds)) : NaN;
      if (i >= WARMUP) {
        singleTimes.push(s);
        crossTimes.push(c);
        if (!Number.isNaN(l)) localTimes.push(l);
      }
      if (i % 500 === 499) progress('rtt', i + 1, WARMUP + samples);
    }
    for (const times of [singleTimes, crossTimes, localTimes]) times.sort((x, y) => x - y);
    const loadAfterRtt = round(loadavg()[0] ?? NaN);
    // The same job on the single node, as the fan-out's baseline of this run.
    const singleJob = await runJob(single, await login(single), singleIds.slice(0, fanoutCount));
    // The single node has done its part: its agents stop loading the machine.
    const fleetSingle = fleets.shift();
    fleetSingle?.kill('SIGKILL');
    singleConsole.close();
    await single.stop();

    // Fan-out over every node.
    const fanoutIds = interleave(NODE_NAMES.map((name) => spread.get(name) ?? []), fanoutCount);
    process.stderr.write(`cluster: fan-out over ${fanoutIds.length} devices (${NODE_NAMES.map((name) => `${name}=${fanoutIds.filter((id) => watch.holders.get(id) === name).length}`).join(' ')}), created on node-a\n`);
    const job = await runJob(a, token, fanoutIds);

    // Failover: the node with the most real agents' links (control and telemetry, as HAProxy relays
    // them) among those holding a real agent's control channel is killed; a shell on one of them is
    // open through a survivor.
    const relayed = await sessionServers(statsSocket);
    const linksOn = (agent: RealAgent, node: Backend) => sourcePortsTo(agent.proc.child.pid ?? 0, lbPort).filter((port) => relayed.get(port) === nameOf(node)).length;
    const realLinksOn = (node: Backend) => realAgents.reduce((sum, agent) => sum + linksOn(agent, node), 0);
    const realOn = (node: Backend) => realAgents.filter((x) => watch.holders.get(x.deviceId) === nameOf(node));
    const victim = nodes.filter((node) => realOn(node).length > 0).sort((x, y) => realLinksOn(y) - realLinksOn(x))[0];
    const shellAgent = victim && realOn(victim)[0];
    if (!victim || !shellAgent) throw new Error('no real agent on any node');
    // A real agent's links on the killed node beyond its control channel are its telemetry socket.
    const telemetryMoved = realLinksOn(victim) - realOn(victim).length;
    const survivors = nodes.filter((node) => node !== victim);
    const [shellNode, checkNode] = survivors as [Backend, Backend];
    term = await ShellClient.open(shellNode, token, { deviceId: shellAgent.deviceId, cols: 80, rows: 24 });
    term.type('MARK=kept-$((6*7))\r');
    await term.waitFor('MARK=kept-', 0, 10_000);
    const moving = new Set(everyId.filter((id) => watch.holders.get(id) === nameOf(victim)));
    const movedReal = realOn(victim).length;
    const back = new Map<string, number>();
    watch.onHolder = (id, node) => {
      if (moving.has(id) && node !== nameOf(victim) && !back.has(id)) {
        back.set(id, Date.now());
        progress('failover', back.size, moving.size);
      }
    };
    process.stderr.write(`cluster: kill -9 ${nameOf(victim)} holding ${moving.size} devices (${movedReal} real, ${telemetryMoved} real telemetry sockets); shell through ${nameOf(shellNode)}\n`);
    const killedAt = Date.now();
    await victim.proc.stop('SIGKILL');

    const shellTerm = term;
    const shellCheck = (async () => {
      const from = shellTerm.received;
      try {
        await waitFor(async () => {
          shellTerm.type('echo mark=$MARK\r');
          await new Promise((r) => setTimeout(r, 300));
          return shellTerm.text(from).includes('mark=kept-42');
        }, 90_000, 'the shell to answer after the kill');
        return { resumed: shellTerm.ended === null, ms: Date.now() - killedAt };
      } catch (err) {
        process.stderr.write(`cluster: ${String(err)}\n${shellNode.proc.tail(20)}\n`);
        return { resumed: false, ms: NaN };
      }
    })();
    const allBack = await waitFor(() => back.size === moving.size, failoverTimeoutMs, 'every device of the killed node held by a survivor')
      .then(() => Math.max(...back.values()) - killedAt)
      .catch((err: unknown) => {
        process.stderr.write(`cluster: ${String(err)}: ${back.size} of ${moving.size} back\n`);
        return NaN;
      });
    const loadAfterFailover = round(loadavg()[0] ?? NaN);
    const backTimes = [...back.values()].map((at) => at - killedAt).sort((x, y) => x - y);
    // Seen from a survivor: every moved device answers through it (its holder is the other survivor, or itself).
    const checkConsole = await openConsole(checkNode, token);
    consoles.push(checkConsole);
    let answering = 0;
    const answerDeadline = Date.now() + 30_000;
    for (const id of moving) {
      for (;;) {
        const answer = await checkConsole.request(id, 'system.echo', { payload: 'back' });
        if (answer.ok) {
          answering++;
          break;
        }
        if (Date.now() > answerDeadline) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const shell = await shellCheck;

    // Telemetry of the real agents, once they are back and their spools have drained.
    let batches = 0;
    let lost = 0;
    let duplicates = 0;
    for (const agent of realAgents) {
      await waitFor(() => readdirSync(join(agent.stateDir, 'spool')).filter((f) => f.endsWith('.json')).length <= 2, 60_000, 'a real agent\'s spool to drain');
      const counted = await checkSamples(agent, clusterDb.url);
      batches += counted.batches;
      lost += counted.lost;
      duplicates += counted.duplicates;
    }

    const singleP99 = percentile(singleTimes, 99);
    const crossP99 = percentile(crossTimes, 99);
    return {
      nodes: NODE_NAMES.length,
      agents: agents + realCount,
      baselineAgents,
      crossNodeRttP50Ms: round(percentile(crossTimes, 50)),
      crossNodeRttP99Ms: round(crossP99),
      sameNodeRttP99Ms: round(percentile(localTimes, 99)),
      singleNodeRttP50Ms: round(percentile(singleTimes, 50)),
      singleNodeRttP99Ms: round(singleP99),
      crossNodeRttRatio: round(crossP99 / singleP99),
      fanoutDevices: fanoutIds.length,
      fanout1000Ms: Math.round(job.ms),
      fanoutSucceeded: job.succeeded,
      singleNodeFanout1000Ms: Math.round(singleJob.ms),
      singleNodeFanoutSucceeded: singleJob.succeeded,
      killedNodeAgents: moving.size,
      failoverAllBackMs: allBack,
      failoverHalfBackMs: percentile(backTimes, 50),
      failoverAnswering: answering,
      realAgentsMoved: movedReal,
      realTelemetryMoved: telemetryMoved,
      telemetryBatchesChecked: batches,
      lostSamples: lost,
      duplicateSamples: duplicates,
      shellResumed: shell.resumed ? 1 : 0,
      shellResumedMs: shell.ms,
      loadAverage,
      loadAverageAfterRtt: loadAfterRtt,
      loadAverageAfterFailover: loadAfterFailover,
    };
  } finally {
    if (term) {
      term.type('exit 0\r');
      term.close();
    }
    for (const console of consoles) console.close();
    for (const fleet of fleets) fleet.kill('SIGKILL');
    for (const agent of realAgents) await agent.proc.stop();
    await haproxy?.stop();
    await Promise.all(backends.map((backend) => backend.proc.stop()));
    await presence?.close();
    for (const database of databases) await database.drop().catch((err: unknown) => process.stderr.write(`cluster: database not dropped: ${String(err)}\n`));
    await dropPrefix(prefix).catch(() => undefined);
    cleanup(...dirs);
  }
}
