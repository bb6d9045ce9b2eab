import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalDeviceRouter, type DeviceLink } from '../../backend/devices/device-router.js';
import { FleetEvents } from '../../backend/devices/fleet-events.js';
import { Presence } from '../../backend/devices/presence.js';
import { startClusterNode, type ClusterNode } from '../../backend/cluster/cluster-node.js';
import { freePort, startNats, stopNats } from './private-nats.js';

/**
 * A NATS restart under two nodes, on a private nats-server this test starts and stops (the
 * shared one on 4222 is never touched).
 */
async function until(check: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return Date.now() - start;
}

const log = pino({ level: 'silent' });

describe('a NATS restart under two nodes', () => {
  const storeDir = mkdtempSync(join(tmpdir(), 'tether-nats-'));
  let nats: ChildProcess | null = null;
  const nodes: ClusterNode[] = [];

  afterAll(async () => {
    for (const node of nodes) await node.close();
    if (nats) await stopNats(nats);
    rmSync(storeDir, { recursive: true, force: true });
  });

  it('turns readiness red while NATS is away, then reconnects and converges presence', async () => {
    const port = await freePort();
    nats = await startNats(port, storeDir);
    const make = async (id: string) => {
      const local = new LocalDeviceRouter();
      const events = new FleetEvents();
      const presence = new Presence({ saveLastSeen: async () => undefined }, events);
      const node = await startClusterNode({ config: { natsUrl: `nats://127.0.0.1:${port}`, nodeId: id, prefix: 'outage', presenceTtlMs: 2_000 }, local, presence, events, log, defaultRequestTimeoutMs: 1_000 });
      nodes.push(node);
      return { node, presence, local };
    };
    const a = await make('node-a');
    const b = await make('node-b');
    const link = (): DeviceLink => ({ request: async () => 'pong', emit: () => undefined, close: () => undefined });
    a.node.router.attach('dev_aaaaaaaaaaaaaaaaaaaa', link());
    await until(() => b.node.router.isConnected('dev_aaaaaaaaaaaaaaaaaaaa'), 5_000, 'presence on B');
    expect(a.node.health.problem).toBeUndefined();

    await stopNats(nats);
    await until(() => a.node.health.problem !== undefined && b.node.health.problem !== undefined, 5_000, 'both nodes reporting the bus down');
    await expect(b.node.router.request('dev_aaaaaaaaaaaaaaaaaaaa', 'system.echo', {}, 300)).rejects.toMatchObject({ code: expect.stringMatching(/^(BUS_UNAVAILABLE|REQUEST_TIMEOUT)$/) });
    // Longer than the presence TTL: what B knew stays (no fleet-wide offline flap on a NATS restart).
    await new Promise((r) => setTimeout(r, 2_500));
    expect(b.presence.isOnline('dev_aaaaaaaaaaaaaaaaaaaa')).toBe(true);
    expect(b.node.router.isConnected('dev_aaaaaaaaaaaaaaaaaaaa')).toBe(true);
    // A device connecting to A while the bus is away: A serves it; B learns of it once NATS is back.
    a.node.router.attach('dev_cccccccccccccccccccc', link());
    await expect(a.node.router.request('dev_cccccccccccccccccccc', 'system.echo', {})).resolves.toBe('pong');

    nats = await startNats(port, storeDir);
    await until(() => a.node.health.problem === undefined && b.node.health.problem === undefined, 15_000, 'both nodes reconnected');
    const converged = await until(() => b.node.router.isConnected('dev_cccccccccccccccccccc') && b.node.router.isConnected('dev_aaaaaaaaaaaaaaaaaaaa'), 15_000, 'presence converged on B');
    expect(converged).toBeLessThan(10_000);
    await expect(b.node.router.request('dev_cccccccccccccccccccc', 'system.echo', {})).resolves.toBe('pong');
  });

  it('signs in with credentials from the URL, and refuses to start with wrong ones (BUS_UNAVAILABLE, password not shown)', async () => {
    const port = await freePort();
    const authDir = mkdtempSync(join(tmpdir(), 'tether-nats-auth-'));
    const server = await startNats(port, authDir, ['--user', 'tether', '--pass', 's3cret']);
    try {
      const start = (url: string) => startClusterNode({
        config: { natsUrl: url, nodeId: 'node-auth', prefix: 'auth' }, local: new LocalDeviceRouter(), presence: new Presence({ saveLastSeen: async () => undefined }, new FleetEvents()),
        events: new FleetEvents(), log, defaultRequestTimeoutMs: 1_000,
      });
      const node = await start(`nats://tether:s3cret@127.0.0.1:${port}`);
      expect(node.health.problem).toBeUndefined();
      await node.close();
      const refused = await start(`nats://tether:wrong@127.0.0.1:${port}`).then(() => undefined, (err: unknown) => err);
      expect(refused).toMatchObject({ code: 'BUS_UNAVAILABLE' });
      expect(String((refused as Error).message)).not.toContain('wrong');
    } finally {
      await stopNats(server);
      rmSync(authDir, { recursive: true, force: true });
    }
  });
});
