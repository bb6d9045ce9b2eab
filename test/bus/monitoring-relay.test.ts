import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from 'nats';
import type { AlertEvent, MonitoringServerMessage } from '../../protocol/index.js';
import { relayMonitoring } from '../../backend/cluster/monitoring-relay.js';
import { LatestValues } from '../../backend/metrics/latest-values.js';
import { MonitoringLive } from '../../backend/metrics/monitoring-live.js';
import { clusterNames } from '../../backend/cluster/bus-messages.js';
import { testNats, testPrefix } from './test-nats.js';

const DEV = 'dev_aaaaaaaaaaaaaaaaaaaa';
const log = pino({ level: 'silent' });

interface Node { latest: LatestValues; live: MonitoringLive; heard: MonitoringServerMessage[]; stop(): void; nc: NatsConnection }

describe('relayMonitoring (two nodes on a real NATS)', () => {
  const nodes: Node[] = [];
  let prefix = '';

  beforeAll(async () => {
    // Fails with how to start NATS when it is not running.
    await (await testNats()).close();
  });

  afterEach(async () => {
    for (const node of nodes.splice(0)) {
      node.stop();
      node.live.close();
      await node.nc.close();
    }
  });

  const start = async (nodeId: string): Promise<Node> => {
    const nc = await testNats();
    const latest = new LatestValues();
    const live = new MonitoringLive(latest, 60_000);
    const heard: MonitoringServerMessage[] = [];
    const console = live.attach((m) => heard.push(m));
    console.handle({ type: 'metrics.subscribe', target: DEV });
    console.handle({ type: 'logs.subscribe' });
    const stop = relayMonitoring({ nc, prefix, nodeId, live, log });
    await nc.flush();
    const node = { latest, live, heard, stop, nc };
    nodes.push(node);
    return node;
  };

  const until = async (check: () => boolean, what: string) => {
    const deadline = Date.now() + 5_000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  it('feeds one node\'s batches and alerts to the other node\'s consoles and latest values, once, never back', async () => {
    prefix = testPrefix();
    const a = await start('node-a');
    const b = await start('node-b');
    a.live.stored([{ deviceId: DEV, metrics: [{ ts: 1_000, name: 'cpu.total', value: 42 }], logs: [{ id: 7, ts: 1_000, level: 'info', source: 'app', message: 'hello' }] }]);
    const event: AlertEvent = { id: 1, ruleId: 2, ruleName: 'hot', deviceId: DEV, state: 'firing', ts: 1_000, value: 42 };
    a.live.alert(event);

    await until(() => b.heard.some((m) => m.type === 'alert.event'), 'the alert on node B');
    expect(b.heard).toEqual([
      { type: 'metrics.samples', deviceId: DEV, samples: [{ ts: 1_000, name: 'cpu.total', value: 42 }] },
      { type: 'logs.lines', lines: [{ id: 7, ts: 1_000, level: 'info', source: 'app', message: 'hello', deviceId: DEV }] },
      { type: 'alert.event', event },
    ]);
    expect(b.latest.get(DEV, 'cpu.total')).toEqual({ ts: 1_000, value: 42 });
    // Node A's console heard its own feed once: nothing came back from B.
    await b.nc.flush();
    await a.nc.flush();
    expect(a.heard.map((m) => m.type)).toEqual(['metrics.samples', 'logs.lines', 'alert.event']);
  });

  it('drops what does not parse, and splits a feed larger than a bus message', async () => {
    prefix = testPrefix();
    const a = await start('node-a');
    const b = await start('node-b');
    a.nc.publish(clusterNames(prefix).monitoring, Buffer.from(JSON.stringify({ origin: 'node-x', feed: { type: 'stored', batches: [{ deviceId: DEV, metrics: [{ ts: 1, name: 'Not A Metric', value: 1 }], logs: [] }] } })));
    const big = 'x'.repeat(16_000);
    const batches = Array.from({ length: 120 }, (_, i) => ({ deviceId: DEV, metrics: [], logs: [{ id: i, ts: i, level: 'info' as const, source: 's', message: big }] }));
    a.live.stored(batches);
    await until(() => b.heard.flatMap((m) => (m.type === 'logs.lines' ? m.lines : [])).length === 120, 'the 120 lines on node B');
    const lines = b.heard.flatMap((m) => (m.type === 'logs.lines' ? m.lines : []));
    expect(lines.map((l) => l.id)).toEqual(batches.map((x) => x.logs[0]!.id));
    expect(b.heard.length).toBeGreaterThan(1);
    expect(b.heard.filter((m) => m.type === 'metrics.samples')).toEqual([]);
  });
});
