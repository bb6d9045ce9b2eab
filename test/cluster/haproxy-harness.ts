/**
 * A real HAProxy in front of test nodes on loopback, running the shipped build/cluster/haproxy.cfg
 * with only its addresses rewritten: shared by test/cluster/haproxy.test.ts and bench/cluster.ts,
 * so the file admins install is the file tested and measured.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { Proc, ROOT, waitFor } from '../harness.js';

/** Debian installs it in /usr/sbin, which a non-root PATH may lack. */
export const HAPROXY = process.env.TETHER_TEST_HAPROXY ?? (spawnSync('haproxy', ['-v']).error && existsSync('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : 'haproxy');
const SHIPPED_CONFIG = join(ROOT, 'build', 'cluster', 'haproxy.cfg');
/**
 * On loopback every address is 127.0.0.x: HAProxy connects to the nodes from 127.0.0.3 (the only
 * source they read PROXY headers from, TETHER_PROXY_PROTOCOL_FROM), clients reach HAProxy from
 * anywhere else, and direct calls to nodes come from 127.0.0.1.
 */
export const HAPROXY_SOURCE = '127.0.0.3';

/** Fails (the cluster tests are not skipped) with how to install HAProxy when it is missing. */
export function requireHaproxy(): void {
  const probe = spawnSync(HAPROXY, ['-v'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(`HAProxy is not installed (${HAPROXY} -v: ${probe.error?.message ?? probe.stderr}). The cluster tests need it (they are not skipped). Install it with:\n  apt-get install -y haproxy\nor point TETHER_TEST_HAPROXY at the binary.`);
  }
}

/**
 * The shipped build/cluster/haproxy.cfg with only its addresses rewritten for 127.0.0.1 (and
 * what needs root dropped). Each rewrite must match exactly once: a change to the shipped file's
 * shape fails here, not silently.
 */
export function loopbackConfig(shipped: string, options: { bind: string; socket: string; servers: Record<string, string> }): string {
  const rewrites: Array<[RegExp, string]> = [
    [/^\s*log \/dev\/log .*$/m, '    log stderr format raw local0'],
    [/^\s*chroot .*$/m, ''],
    [/^\s*user .*$/m, ''],
    [/^\s*group .*$/m, ''],
    [/^\s*stats socket .*$/m, `    stats socket ${options.socket} mode 600 level admin`],
    [/^\s*bind :443$/m, `    bind ${options.bind}`],
    ...Object.entries(options.servers).map(([name, address]): [RegExp, string] => [new RegExp(`^(\\s*server ${name}) \\S+$`, 'm'), `$1 ${address} source ${HAPROXY_SOURCE}`]),
  ];
  let config = shipped;
  for (const [pattern, replacement] of rewrites) {
    const hits = config.match(new RegExp(pattern.source, 'gm'))?.length ?? 0;
    if (hits !== 1) throw new Error(`build/cluster/haproxy.cfg: expected one line matching ${String(pattern)}, found ${hits}`);
    config = config.replace(pattern, replacement);
  }
  return config;
}

export interface ServerStat { status: string; checkStatus: string; checkCode: string }

/** One command on HAProxy's stats socket; resolves its whole answer. */
function statsCommand(socket: string, command: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const conn = createConnection(socket);
    let text = '';
    conn.setEncoding('utf8');
    conn.on('data', (chunk: string) => (text += chunk));
    conn.on('end', () => resolve(text));
    conn.on('error', reject);
    conn.setTimeout(5_000, () => conn.destroy(new Error('the stats socket did not answer in 5 s')));
    conn.end(`${command}\n`);
  });
}

/** `show stat` on HAProxy's stats socket: the state of each server of the tether_nodes backend. */
export async function serverStats(socket: string): Promise<Map<string, ServerStat>> {
  const csv = await statsCommand(socket, 'show stat');
  const [header = '', ...rows] = csv.trim().split('\n');
  const columns = header.replace(/^# /, '').split(',');
  const at = (name: string) => columns.indexOf(name);
  const stats = new Map<string, ServerStat>();
  for (const row of rows) {
    const cells = row.split(',');
    if (cells[at('pxname')] !== 'tether_nodes' || cells[at('svname')] === 'BACKEND') continue;
    stats.set(cells[at('svname')] ?? '', { status: cells[at('status')] ?? '', checkStatus: cells[at('check_status')] ?? '', checkCode: cells[at('check_code')] ?? '' });
  }
  return stats;
}

/** `show sess`: the server each client connection of the tether_nodes backend is relayed to, by the client's source port. */
export async function sessionServers(socket: string): Promise<Map<number, string>> {
  const servers = new Map<number, string>();
  for (const line of (await statsCommand(socket, 'show sess')).split('\n')) {
    const match = / src=[^ ]*:(\d+) fe=\S+ be=tether_nodes srv=(\S+)/.exec(line);
    if (match) servers.set(Number(match[1]), match[2] ?? '');
  }
  return servers;
}

/**
 * Starts HAProxy on 127.0.0.1:`port` with the shipped configuration (written to `dir`) in front of
 * `servers` (server name in the shipped file → node port on 127.0.0.1); resolves once every
 * server is UP on its /readyz check.
 */
export async function startHaproxy(options: { dir: string; port: number; servers: Record<string, number> }): Promise<{ proc: Proc; statsSocket: string }> {
  const statsSocket = join(options.dir, 'admin.sock');
  const config = join(options.dir, 'haproxy.cfg');
  writeFileSync(config, loopbackConfig(readFileSync(SHIPPED_CONFIG, 'utf8'), {
    bind: `127.0.0.1:${options.port}`,
    socket: statsSocket,
    servers: Object.fromEntries(Object.entries(options.servers).map(([name, port]) => [name, `127.0.0.1:${port}`])),
  }));
  const proc = new Proc(spawn(HAPROXY, ['-db', '-f', config], { stdio: ['ignore', 'pipe', 'pipe'] }), 'haproxy');
  const names = Object.keys(options.servers);
  try {
    await waitFor(async () => {
      if (proc.child.exitCode !== null) throw new Error(`haproxy exited (${String(proc.child.exitCode)}):\n${proc.tail()}`);
      const stats = await serverStats(statsSocket).catch(() => new Map<string, ServerStat>());
      return names.every((name) => stats.get(name)?.status === 'UP' && stats.get(name)?.checkStatus === 'L7OK');
    }, 20_000, 'HAProxy to check every node UP on /readyz');
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { proc, statsSocket };
}
