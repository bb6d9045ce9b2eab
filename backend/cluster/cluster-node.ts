import { connect, Events, type KV, type NatsConnection } from 'nats';
import type { Logger } from 'pino';
import { TetherError, type ErrorCode } from '../../protocol/index.js';
import type { LocalDeviceRouter } from '../devices/device-router.js';
import type { FleetEvents } from '../devices/fleet-events.js';
import type { Presence } from '../devices/presence.js';
import type { MonitoringLive } from '../metrics/monitoring-live.js';
import { clusterNames } from './bus-messages.js';
import { ClusterSignals } from './cluster-signals.js';
import { DeviceLocations } from './device-locations.js';
import { relayFleetEvents } from './fleet-relay.js';
import { relayMonitoring } from './monitoring-relay.js';
import { NatsDeviceRouter } from './nats-device-router.js';
import { NodeRegistry } from './node-registry.js';
import { natsConnectOptions, redactNatsUrl } from './nats-url.js';

export interface ClusterConfig {
  /** nats://[user:password@]host:4222 (several, comma-separated, for a NATS cluster). */
  natsUrl: string;
  /** This node's name in the cluster (default `<hostname>:<port>`); unique per node. */
  nodeId: string;
  /** Subjects and buckets start with it (default `tether`); one NATS can carry several clusters. */
  prefix: string;
  /** A dead node's devices read offline this long after its last refresh (default 20 s). */
  presenceTtlMs?: number;
}

export const DEFAULT_NATS_PREFIX = 'tether';
/** How often streams across nodes are checked for a gone other end (a dead node, a device that moved). */
const STREAM_SWEEP_MS = 2_000;
export const DEFAULT_PRESENCE_TTL_MS = 20_000;

/** Whether the bus is up, for /readyz: red while the NATS connection is down. */
export class BusHealth {
  private down: string | undefined;

  /** Follows the connection's status; `onChange(true)` on a reconnect, `onChange(false)` on a disconnect. */
  watch(nc: NatsConnection, onChange: (up: boolean) => void = () => undefined): void {
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === Events.Disconnect) {
          this.down = `NATS disconnected (${String(status.data)})`;
          onChange(false);
        } else if (status.type === Events.Reconnect) {
          this.down = undefined;
          onChange(true);
        }
      }
    })();
    void nc.closed().then(() => {
      this.down = 'The NATS connection is closed';
    });
  }

  /** Why the bus is not serving (for /readyz), or undefined. */
  get problem(): string | undefined {
    return this.down;
  }
}

/** The NATS side of one node: the router, health, the node registry; built by the composition root. */
export interface ClusterNode {
  router: NatsDeviceRouter;
  health: BusHealth;
  nodes: NodeRegistry;
  /** In-memory state changes announced to the other nodes. */
  signals: ClusterSignals;
  /** Shares this node's live monitoring with the other nodes and theirs with it, until close. */
  relayMonitoring(live: Pick<MonitoringLive, 'tap' | 'stored' | 'alert'>): void;
  /** Stops routing and relaying, then drains the connection (after the links were closed). */
  close(): Promise<void>;
}

export interface ClusterNodeDeps {
  config: ClusterConfig;
  local: LocalDeviceRouter;
  presence: Presence;
  events: FleetEvents;
  log: Logger;
  defaultRequestTimeoutMs: number;
  onDisconnect?(deviceId: string, code: ErrorCode): void;
}

/** Connects to NATS, opens the buckets and starts routing; BUS_UNAVAILABLE when NATS cannot be reached. */
export async function startClusterNode(deps: ClusterNodeDeps): Promise<ClusterNode> {
  const { config, log } = deps;
  const ttlMs = config.presenceTtlMs ?? DEFAULT_PRESENCE_TTL_MS;
  const names = clusterNames(config.prefix);
  const target = natsConnectOptions(config.natsUrl);
  let nc: NatsConnection;
  try {
    nc = await connect({
      ...target,
      name: `tether-backend ${config.nodeId}`,
      // A node keeps trying for ever: NATS restarting must not need the node restarted.
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1_000,
      timeout: 5_000,
      // Every request would otherwise build an Error up front for a stack trace, should it time
      // out: thousands of requests a second across nodes (stream opens, command starts).
      noAsyncTraces: true,
    });
  } catch (err) {
    throw new TetherError('BUS_UNAVAILABLE', `Cannot reach NATS at ${redactNatsUrl(config.natsUrl)}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  try {
    const health = new BusHealth();
    const js = nc.jetstream();
    // history 1: only the current holder matters; max age = TTL so a dead node's keys leave.
    const presenceKv: KV = await js.views.kv(names.presenceBucket, { ttl: ttlMs, history: 1 });
    const nodesKv: KV = await js.views.kv(names.nodesBucket, { ttl: ttlMs, history: 1 });
    // An existing bucket is bound as it is: its max age is the one the first node created it with.
    const bucketTtl = (await presenceKv.status()).ttl;
    if (bucketTtl !== ttlMs) log.warn({ bucket: names.presenceBucket, bucketTtlMs: bucketTtl, ttlMs }, 'the presence bucket has another max age than this node\'s presence TTL; give every node the same');
    const locations = new DeviceLocations({ kv: presenceKv, nodeId: config.nodeId, ttlMs, local: deps.local, presence: deps.presence, log });
    const router = new NatsDeviceRouter({
      nc, prefix: config.prefix, nodeId: config.nodeId, local: deps.local, locations, log,
      defaultRequestTimeoutMs: deps.defaultRequestTimeoutMs, onDisconnect: deps.onDisconnect,
    });
    router.start();
    await locations.start();
    health.watch(nc, (up) => (up ? locations.busUp() : locations.busDown()));
    const signals = new ClusterSignals(nc, config.prefix, config.nodeId, log);
    signals.start();
    const nodes = new NodeRegistry(nodesKv, config.nodeId, ttlMs, log);
    await nodes.start();
    const streamSweep = setInterval(() => {
      if (router.streams.size.holding === 0) return router.sweepStreams();
      nodes.othersAlive().then(
        (alive) => router.sweepStreams(new Set(alive)),
        (err: unknown) => log.debug({ err }, 'live nodes not read; streams swept next time'),
      );
    }, STREAM_SWEEP_MS);
    streamSweep.unref();
    const stops = [relayFleetEvents({ nc, prefix: config.prefix, nodeId: config.nodeId, events: deps.events, log })];
    // Every subscription above is known to the server before this node counts as joined: what
    // another node publishes from now on reaches it.
    await nc.flush();
    log.info({ nodeId: config.nodeId, nats: nc.getServer(), prefix: config.prefix }, 'joined the cluster');
    return {
      router, health, nodes, signals,
      relayMonitoring: (live) => void stops.push(relayMonitoring({ nc, prefix: config.prefix, nodeId: config.nodeId, live, log })),
      close: async () => {
        clearInterval(streamSweep);
        for (const stop of stops) stop();
        signals.close();
        router.close();
        await locations.close();
        await nodes.close();
        await nc.drain().catch(() => undefined);
      },
    };
  } catch (err) {
    await nc.close().catch(() => undefined);
    if (err instanceof TetherError) throw err;
    throw new TetherError('BUS_UNAVAILABLE', `NATS at ${redactNatsUrl(config.natsUrl)} refused the cluster's buckets (is JetStream on? nats-server -js): ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}
