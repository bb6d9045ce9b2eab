import type { NatsConnection } from 'nats';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeRegistry } from '../../backend/cluster/node-registry.js';
import { dropPrefix, testNats, testPrefix } from './test-nats.js';

/** Which nodes are alive, read from a real NATS key-value bucket, as every node's stream sweep and the leader's orphan sweep read it. */
describe('NodeRegistry', () => {
  const prefix = testPrefix();
  let nc: NatsConnection;

  beforeAll(async () => {
    nc = await testNats();
  });

  afterAll(async () => {
    await nc.close();
    await dropPrefix(prefix);
  });

  it('every node sees all the others alive, and a node whose heartbeat stops ages out after the TTL', async () => {
    const ttlMs = 1_500;
    const kv = await nc.jetstream().views.kv(`${prefix}-nodes`, { ttl: ttlMs, history: 1 });
    const log = pino({ level: 'silent' });
    const names = ['node-a', 'node-b', 'node-c', 'node-d'];
    const nodes = names.map((name) => new NodeRegistry(kv, name, ttlMs, log));
    await Promise.all(nodes.map((node) => node.start()));
    try {
      // Four keys: a lister that stopped after its first key (as nats.js's does when its loop awaits) shows here.
      for (const [i, node] of nodes.entries()) {
        expect((await node.othersAlive()).sort()).toEqual(names.filter((_, j) => j !== i));
        expect(await node.aliveInstances()).toEqual(new Set(nodes.map((n) => n.instance)));
      }
      // node-a dies: its heartbeat stops without a withdrawal.
      const dead = nodes[0] as NodeRegistry;
      clearInterval((dead as unknown as { timer: NodeJS.Timeout }).timer);
      await new Promise((resolve) => setTimeout(resolve, ttlMs + 500));
      expect((await (nodes[1] as NodeRegistry).othersAlive()).sort()).toEqual(['node-c', 'node-d']);
      expect((await (nodes[1] as NodeRegistry).aliveInstances()).has(dead.instance)).toBe(false);
    } finally {
      await Promise.all(nodes.slice(1).map((node) => node.close()));
    }
  });
});
