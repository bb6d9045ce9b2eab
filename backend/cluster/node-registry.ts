import { randomUUID } from 'node:crypto';
import type { KV, KvEntry } from 'nats';
import type { Logger } from 'pino';
import { z } from 'zod';
import { encode, parsePayload } from './bus-messages.js';

const NodeEntry = z.object({ node: z.string(), startedAt: z.number(), instance: z.string().optional() });

/**
 * Which nodes are alive: node id → start time in a key-value bucket whose max age is `ttlMs`,
 * rewritten every `ttlMs / 4`. A starting node reads it to know whether it is alone (a cold
 * start, whose leftovers it may clean up) or joins live nodes (whose sessions it must not end).
 */
export class NodeRegistry {
  private timer: NodeJS.Timeout | undefined;
  private readonly key: string;
  /** This process: a node restarted under the same id is another instance. */
  readonly instance: string = randomUUID();

  constructor(private readonly kv: KV, private readonly nodeId: string, private readonly ttlMs: number, private readonly log: Logger, private readonly now: () => number = Date.now) {
    // Keys are subject tokens: the node id's dots and colons would not do.
    this.key = Buffer.from(nodeId, 'utf8').toString('hex');
  }

  /** Announces this node and keeps announcing it. */
  async start(): Promise<void> {
    const value = encode({ node: this.nodeId, startedAt: this.now(), instance: this.instance });
    await this.kv.put(this.key, value);
    this.timer = setInterval(() => {
      this.kv.put(this.key, value).catch((err: unknown) => this.log.warn({ err }, 'node heartbeat not written'));
    }, Math.max(50, this.ttlMs / 4));
    this.timer.unref();
  }

  /** Ids of the other nodes whose heartbeat is younger than the TTL. */
  async othersAlive(): Promise<string[]> {
    return (await this.alive()).filter((entry) => entry.key !== this.key).map((entry) => Buffer.from(entry.key, 'hex').toString('utf8'));
  }

  /** Instances of the nodes whose heartbeat is younger than the TTL, this one's included. */
  async aliveInstances(): Promise<Set<string>> {
    const alive = new Set([this.instance]);
    for (const entry of await this.alive()) {
      const value = parsePayload(NodeEntry, entry.value);
      if (value?.instance) alive.add(value.instance);
    }
    return alive;
  }

  /** The bucket's entries whose heartbeat is younger than the TTL. */
  private async alive(): Promise<KvEntry[]> {
    // The keys first, then their values: nats.js's key lister ends early when its loop awaits.
    const keys: string[] = [];
    for await (const key of await this.kv.keys()) keys.push(key);
    const entries = await Promise.all(keys.map((key) => this.kv.get(key)));
    return entries.filter((entry): entry is KvEntry => entry?.operation === 'PUT' && this.now() - entry.created.getTime() < this.ttlMs);
  }

  /** Stops the heartbeat and withdraws this node (a clean stop; a dead node ages out). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.kv.delete(this.key).catch(() => undefined);
  }
}
