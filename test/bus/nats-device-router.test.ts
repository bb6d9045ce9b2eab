import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RpcError } from '../../channel/rpc.js';
import { TetherError, type Device, type ErrorCode } from '../../protocol/index.js';
import { dropPrefix, TEST_NATS_URL, testNats, testPrefix } from './test-nats.js';
import { LocalDeviceRouter, type DeviceLink } from '../../backend/devices/device-router.js';
import { LinkStreams } from '../../backend/devices/link-streams.js';
import { FleetEvents, type FleetEvent } from '../../backend/devices/fleet-events.js';
import { Presence } from '../../backend/devices/presence.js';
import { startClusterNode, type ClusterNode } from '../../backend/cluster/cluster-node.js';

interface TestNode {
  id: string;
  local: LocalDeviceRouter;
  presence: Presence;
  events: FleetEvents;
  fleet: FleetEvent[];
  cluster: ClusterNode;
}

interface FakeLink extends DeviceLink {
  closed: ErrorCode[];
  emitted: Array<[string, unknown]>;
}

const log = pino({ level: 'silent' });
let prefix = '';
const started: TestNode[] = [];

async function startNode(id: string, presenceTtlMs = 20_000): Promise<TestNode> {
  const local = new LocalDeviceRouter();
  const events = new FleetEvents();
  const fleet: FleetEvent[] = [];
  events.subscribe((e) => fleet.push(e));
  const presence = new Presence({ saveLastSeen: async () => undefined }, events);
  const cluster = await startClusterNode({ config: { natsUrl: TEST_NATS_URL, nodeId: id, prefix, presenceTtlMs }, local, presence, events, log, defaultRequestTimeoutMs: 1_000 });
  const node = { id, local, presence, events, fleet, cluster };
  started.push(node);
  return node;
}

/** Opens a link on `node` as the control gateway does, closing it as the gateway does too. */
function connectDevice(node: TestNode, deviceId: string, answer: (method: string, params: unknown, timeoutMs?: number) => Promise<unknown> = async (method, params) => ({ method, params, node: node.id })): FakeLink {
  const link: FakeLink = {
    closed: [],
    emitted: [],
    request: (method, params, timeoutMs) => answer(method, params, timeoutMs),
    emit: (name, data) => link.emitted.push([name, data]),
    close: (code) => {
      link.closed.push(code);
      node.cluster.router.detach(deviceId, link);
      if (!node.cluster.router.isConnected(deviceId)) node.presence.disconnected(deviceId);
    },
  };
  node.cluster.router.attach(deviceId, link);
  node.presence.connected(deviceId);
  return link;
}

async function until(check: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<number> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - start;
}

const DEV_A = 'dev_aaaaaaaaaaaaaaaaaaaa';
const DEV_B = 'dev_bbbbbbbbbbbbbbbbbbbb';
const DEV_X = 'dev_xxxxxxxxxxxxxxxxxxxx';

describe('NatsDeviceRouter (two nodes on a real NATS)', () => {
  beforeAll(async () => {
    // Fails with how to start NATS when it is not running.
    await (await testNats()).close();
  });

  afterEach(async () => {
    for (const node of started.splice(0)) await node.cluster.close();
    await dropPrefix(prefix);
  });

  const twoNodes = async (ttlMs?: number) => {
    prefix = testPrefix();
    return [await startNode('node-a.example:8443', ttlMs), await startNode('node-b.example:8443', ttlMs)] as const;
  };

  it('routes a request to the node holding the device and sees it online there', async () => {
    const [a, b] = await twoNodes();
    connectDevice(a, DEV_A);
    await until(() => b.cluster.router.isConnected(DEV_A), 5_000, 'presence on B');
    expect(b.presence.isOnline(DEV_A)).toBe(true);
    expect(b.fleet).toContainEqual(expect.objectContaining({ type: 'device.status', id: DEV_A, online: true }));
    expect(b.cluster.router.connectedCount()).toBe(1);
    await expect(b.cluster.router.request(DEV_A, 'system.echo', { x: 1 })).resolves.toEqual({ method: 'system.echo', params: { x: 1 }, node: 'node-a.example:8443' });
    await expect(b.cluster.router.request(DEV_X, 'system.echo', {})).rejects.toMatchObject({ code: 'DEVICE_OFFLINE' });
  });

  it('keeps the code and class of a remote error, and times out as locally', async () => {
    const [a, b] = await twoNodes();
    connectDevice(a, DEV_A, async (method) => {
      if (method === 'rpc.fail') throw new RpcError('PATH_NOT_ALLOWED', 'outside the roots');
      if (method === 'tether.fail') throw new TetherError('METHOD_UNKNOWN');
      return new Promise(() => undefined); // never answers
    });
    await until(() => b.cluster.router.isConnected(DEV_A));
    const rpc = await b.cluster.router.request(DEV_A, 'rpc.fail', {}).catch((e: unknown) => e);
    expect(rpc).toBeInstanceOf(RpcError);
    expect(rpc).toMatchObject({ code: 'PATH_NOT_ALLOWED', message: 'outside the roots' });
    const tether = await b.cluster.router.request(DEV_A, 'tether.fail', {}).catch((e: unknown) => e);
    expect(tether).toBeInstanceOf(TetherError);
    expect(tether).toMatchObject({ code: 'METHOD_UNKNOWN' });
    // The link here never answers (a real link times out itself; the bus's own timeout is the backstop).
    const started = Date.now();
    await expect(b.cluster.router.request(DEV_A, 'hang', {}, 300)).rejects.toMatchObject({ code: 'REQUEST_TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('publishes to devices on every node and counts them', async () => {
    const [a, b] = await twoNodes();
    const onA = connectDevice(a, DEV_A);
    const onB = connectDevice(b, DEV_B);
    await until(() => a.cluster.router.isConnected(DEV_B) && b.cluster.router.isConnected(DEV_A));
    expect(a.cluster.router.publish([DEV_A, DEV_B, DEV_X], 'config.hint', { v: 2 })).toBe(2);
    await until(() => onB.emitted.length === 1, 5_000, 'emit on B');
    expect(onA.emitted).toEqual([['config.hint', { v: 2 }]]);
    expect(onB.emitted).toEqual([['config.hint', { v: 2 }]]);
  });

  it('delivers device events to subscribers on every node', async () => {
    const [a, b] = await twoNodes();
    connectDevice(a, DEV_A);
    const seenA: unknown[] = [];
    const seenB: unknown[] = [];
    const seenBOne: unknown[] = [];
    a.cluster.router.subscribe('*', (id, name, data) => seenA.push([id, name, data]));
    b.cluster.router.subscribe('*', (id, name, data) => seenB.push([id, name, data]));
    b.cluster.router.subscribe(DEV_A, (id, name) => seenBOne.push(name));
    a.cluster.router.deliver(DEV_A, 'config.applied', { version: 3 });
    await until(() => seenB.length === 1 && seenBOne.length === 1, 5_000, 'event on B');
    expect(seenA).toEqual([[DEV_A, 'config.applied', { version: 3 }]]);
    expect(seenB).toEqual([[DEV_A, 'config.applied', { version: 3 }]]);
  });

  it('disconnects a device from the other node in under a second, and it reads offline everywhere', async () => {
    const [a, b] = await twoNodes();
    const link = connectDevice(a, DEV_A);
    await until(() => b.cluster.router.isConnected(DEV_A));
    expect(b.cluster.router.disconnect(DEV_A, 'DEVICE_REVOKED')).toBe(true);
    const took = await until(() => link.closed.length > 0, 1_000, 'the holding node closing the link');
    expect(took).toBeLessThan(1_000);
    expect(link.closed).toEqual(['DEVICE_REVOKED']);
    await until(() => !b.cluster.router.isConnected(DEV_A) && !b.presence.isOnline(DEV_A), 2_000, 'offline on B');
    expect(a.cluster.router.isConnected(DEV_A)).toBe(false);
    expect(a.presence.isOnline(DEV_A)).toBe(false);
  });

  it('closes the old link as superseded when the device reconnects through another node', async () => {
    const [a, b] = await twoNodes();
    const old = connectDevice(a, DEV_A);
    await until(() => b.cluster.router.isConnected(DEV_A));
    connectDevice(b, DEV_A);
    await until(() => old.closed.length > 0, 5_000, 'the old link closed');
    expect(old.closed).toEqual(['DEVICE_SUPERSEDED']);
    // Still online on both: the new link holds it.
    await until(() => a.cluster.router.isConnected(DEV_A));
    expect(a.presence.isOnline(DEV_A)).toBe(true);
    await expect(a.cluster.router.request(DEV_A, 'system.echo', {})).resolves.toMatchObject({ node: 'node-b.example:8443' });
    // Outlives a few refreshes of the new holder without flapping back.
    await new Promise((r) => setTimeout(r, 300));
    expect(b.local.isConnected(DEV_A)).toBe(true);
  });

  it('reads a dead node\'s devices offline once their presence entry ages out', async () => {
    const [a, b] = await twoNodes(1_500);
    connectDevice(a, DEV_A);
    await until(() => b.cluster.router.isConnected(DEV_A));
    // Refreshed while A lives: still online after more than a TTL.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(b.cluster.router.isConnected(DEV_A)).toBe(true);
    // A stops without releasing its devices (as a killed node would).
    started.splice(started.indexOf(a), 1);
    await a.cluster.close();
    const took = await until(() => !b.presence.isOnline(DEV_A), 5_000, 'offline on B');
    expect(took).toBeLessThan(3_000);
    expect(b.cluster.router.isConnected(DEV_A)).toBe(false);
    expect(b.fleet).toContainEqual(expect.objectContaining({ type: 'device.status', id: DEV_A, online: false }));
    await expect(b.cluster.router.request(DEV_A, 'system.echo', {})).rejects.toMatchObject({ code: 'DEVICE_OFFLINE' });
  });

  it('a node restarting under the same id clears what its previous process held, without waiting for the TTL', async () => {
    const [a, b] = await twoNodes();
    connectDevice(a, DEV_A);
    await until(() => b.cluster.router.isConnected(DEV_A));
    started.splice(started.indexOf(a), 1);
    await a.cluster.close(); // as if killed: its entries stay
    const again = await startNode('node-a.example:8443');
    const took = await until(() => !b.presence.isOnline(DEV_A), 5_000, 'offline on B');
    expect(took).toBeLessThan(2_000);
    expect(again.cluster.router.isConnected(DEV_A)).toBe(false);
  });

  it('carries a stream between a link on node A and a feature on node B, both ways, in order, and ends it from either side', async () => {
    const [a, b] = await twoNodes();
    const link = connectDevice(a, DEV_A);
    const toDevice: Array<{ id: number; data: Buffer }> = [];
    const streams = new LinkStreams((id, data) => (toDevice.push({ id, data: Buffer.from(data) }), true), 64 * 1024);
    link.streams = streams;
    await until(() => b.cluster.router.isConnected(DEV_A));

    const received: Buffer[] = [];
    let linkClosed = 0;
    const stream = await b.cluster.router.openStream(DEV_A, { onData: (d) => received.push(d), onLinkClosed: () => linkClosed++ });
    expect(a.cluster.router.streams.size).toEqual({ viewing: 0, holding: 1 });
    expect(b.cluster.router.streams.size).toEqual({ viewing: 1, holding: 0 });

    // Device → node B: the bytes the device sends on its stream id, in order.
    const lines = Array.from({ length: 200 }, (_, i) => `line ${i}\n`);
    for (const line of lines) expect(streams.deliver(stream.id, Buffer.from(line))).toBe(true);
    await until(() => received.length === lines.length, 5_000, 'the lines on node B');
    expect(Buffer.concat(received).toString()).toBe(lines.join(''));

    // Node B → device: larger than a bus message, cut into frames on the way and joined again.
    const big = randomBytes(1_500_000);
    expect(stream.send(big)).toBe(true);
    await until(() => toDevice.reduce((n, f) => n + f.data.length, 0) === big.length, 5_000, 'the bytes at the device');
    expect(Buffer.concat(toDevice.map((f) => f.data)).equals(big)).toBe(true);
    expect(new Set(toDevice.map((f) => f.id))).toEqual(new Set([stream.id]));

    // Closed by the feature on B: node A closes its end on the link, later device bytes are dropped.
    stream.close();
    await until(() => a.cluster.router.streams.size.holding === 0, 5_000, 'the end on node A');
    expect(streams.deliver(stream.id, Buffer.from('late'))).toBe(false);
    expect(stream.send(Buffer.from('late'))).toBe(false);
    expect(linkClosed).toBe(0);

    // The link closes on node A: the feature on B hears it once, and its stream sends nothing more.
    const second = await b.cluster.router.openStream(DEV_A, { onData: () => undefined, onLinkClosed: () => linkClosed++ });
    expect(second.id).not.toBe(stream.id);
    streams.closeAll();
    await until(() => linkClosed === 1, 5_000, 'the link close heard on node B');
    expect(second.send(Buffer.from('x'))).toBe(false);
    expect(b.cluster.router.streams.size).toEqual({ viewing: 0, holding: 0 });

    // Nobody holds it: DEVICE_OFFLINE as on one node.
    await expect(b.cluster.router.openStream(DEV_X, { onData: () => undefined, onLinkClosed: () => undefined })).rejects.toMatchObject({ code: 'DEVICE_OFFLINE' });
  });

  it('ends a viewed stream when its holder node stops, and a held stream when its viewer node is gone', async () => {
    const [a, b] = await twoNodes();
    const link = connectDevice(a, DEV_A);
    const streams = new LinkStreams(() => true, 64 * 1024);
    link.streams = streams;
    await until(() => b.cluster.router.isConnected(DEV_A));
    let linkClosed = 0;
    await b.cluster.router.openStream(DEV_A, { onData: () => undefined, onLinkClosed: () => linkClosed++ });
    expect(streams.size).toBe(1);

    // Node B is not among the live nodes any more (its heartbeat aged out): A closes what it held
    // for it, and still tells B, which hears it since it was alive after all.
    a.cluster.router.sweepStreams(new Set(['node-c.example:8443']));
    expect(a.cluster.router.streams.size.holding).toBe(0);
    expect(streams.size).toBe(0);
    await until(() => linkClosed === 1, 5_000, 'node B told its stream ended');

    // Node A stops: B's viewed streams of its devices end.
    await b.cluster.router.openStream(DEV_A, { onData: () => undefined, onLinkClosed: () => linkClosed++ });
    started.splice(started.indexOf(a), 1);
    await a.cluster.close();
    await until(() => linkClosed === 2, 5_000, 'the stream ended on node B');
  });

  it('relays enrolments and removals to the other nodes, once', async () => {
    const [a, b] = await twoNodes();
    const device: Device = { id: DEV_A, name: 'robot', status: 'active', tags: {}, facts: null, createdAt: 1, online: false, lastSeen: null };
    a.events.emit({ type: 'device.upsert', device });
    a.events.emit({ type: 'device.removed', id: DEV_B });
    await until(() => b.fleet.length === 2, 5_000, 'fleet events on B');
    expect(b.fleet).toEqual([{ type: 'device.upsert', device }, { type: 'device.removed', id: DEV_B }]);
    await new Promise((r) => setTimeout(r, 200));
    expect(a.fleet).toHaveLength(2);
  });
});
