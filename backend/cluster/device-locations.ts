import type { KV, KvEntry, QueuedIterator } from 'nats';
import type { Logger } from 'pino';
import type { LocalDeviceRouter } from '../devices/device-router.js';
import type { Presence } from '../devices/presence.js';
import { encode, parsePayload, PresenceValue } from './bus-messages.js';

export interface DeviceLocationsDeps {
  /** The presence bucket (device id → `{node}`), created with `ttlMs` as its max age. */
  kv: KV;
  nodeId: string;
  /** An entry not refreshed for this long reads as gone: its node died. */
  ttlMs: number;
  /** This node's links: one is closed when another node takes its device over. */
  local: Pick<LocalDeviceRouter, 'isConnected' | 'disconnect'>;
  /** Online state of devices held by other nodes is mirrored into this node's presence (API views, alerts, jobs, console events). */
  presence: Pick<Presence, 'isOnline' | 'connected' | 'disconnected'>;
  log: Logger;
  now?: () => number;
}

interface RemoteEntry {
  node: string;
  /** When the holder last wrote the entry (server time, not later than our clock). */
  at: number;
  revision: number;
}

interface OwnEntry {
  /** Revision of our last write of the key; null before the first one succeeded. */
  revision: number | null;
  /** Highest revision another node wrote while our first write was in flight. */
  foreign: number;
  /** The key's writes, one after another, so a release's conditional delete sees the last revision. */
  chain: Promise<void>;
}

/** How long close() waits for the last writes (releases at shutdown) before giving up on them. */
const CLOSE_WAIT_MS = 3_000;

/**
 * Where each device's control channel is: a JetStream key-value bucket of device id → node id.
 *
 * - The holding node writes the key when a link opens (`claim`), rewrites it every `ttlMs / 4`
 *   with a revision compare-and-set, and deletes it with one when the link closes (`release`).
 *   The bucket's max age is `ttlMs`, so a dead node's keys leave the bucket by themselves.
 * - Every node watches the bucket and keeps the entries of other nodes in memory. JetStream does
 *   not tell watchers when a key ages out, so each node also ages entries itself: one not
 *   rewritten for `ttlMs` reads as gone, and its device goes offline in this node's presence.
 *   A dead node's devices thus read offline `ttlMs` (+ one sweep) after its last refresh.
 * - Supersede: a newer write by another node (a higher revision than our last write) means the
 *   device reconnected there; our link is closed with DEVICE_SUPERSEDED. Refreshes are
 *   conditional, so an old holder can never overwrite the new one's claim.
 *
 * Cost: one write per held device per `ttlMs / 4`, seen by every node's watch. A per-node
 * heartbeat with device keys written only on connect and close would be cheaper at 10,000s of
 * devices; the benchmark decides (phase 2).
 */
export class DeviceLocations {
  private readonly remote = new Map<string, RemoteEntry>();
  private readonly own = new Map<string, OwnEntry>();
  private readonly writes = new Set<Promise<void>>();
  private readonly now: () => number;
  private watcher: QueuedIterator<KvEntry> | null = null;
  private refreshTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private down = false;

  constructor(private readonly deps: DeviceLocationsDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Loads the bucket's current entries and follows its changes; resolves once loaded. */
  async start(): Promise<void> {
    await this.watch();
    this.refreshTimer = setInterval(() => this.refreshAll(), Math.max(50, this.deps.ttlMs / 4));
    this.sweepTimer = setInterval(() => this.sweep(), Math.max(50, Math.min(1_000, this.deps.ttlMs / 4)));
    this.refreshTimer.unref();
    this.sweepTimer.unref();
  }

  /**
   * The bus is down: entries of other nodes stop ageing (nothing can refresh them now, and a
   * NATS restart must not read the whole rest of the fleet offline).
   */
  busDown(): void {
    this.down = true;
  }

  /** The bus is back: other nodes' entries get one TTL to be refreshed, and the watch starts over from the bucket's current state. */
  busUp(): void {
    if (!this.down || this.closed) return;
    this.down = false;
    const now = this.now();
    for (const entry of this.remote.values()) entry.at = Math.max(entry.at, now);
    // The client's own recovery of a watch after a reconnect waits for missed heartbeats (~10 s); a new one reads the bucket now.
    void this.watch().catch((err: unknown) => this.deps.log.warn({ err }, 'presence watch not restarted; the client recovers it'));
  }

  /** The node holding the device's channel when it is another node (and its entry is fresh); else undefined. */
  holder(deviceId: string): string | undefined {
    const entry = this.remote.get(deviceId);
    return entry && (this.down || this.now() - entry.at < this.deps.ttlMs) ? entry.node : undefined;
  }

  /** Devices held by other nodes (entries not yet swept). */
  remoteCount(): number {
    return this.remote.size;
  }

  /** This node now holds the device's channel: writes the key (a newer link always wins). */
  claim(deviceId: string): void {
    const entry: OwnEntry = { revision: null, foreign: 0, chain: Promise.resolve() };
    this.own.set(deviceId, entry);
    this.write(entry, async () => {
      const revision = await this.deps.kv.put(deviceId, this.value());
      if (this.own.get(deviceId) !== entry) return;
      entry.revision = revision;
      if (entry.foreign > revision) this.superseded(deviceId);
    }, deviceId);
  }

  /** This node's link closed (not superseded): deletes the key unless another node wrote it since. */
  release(deviceId: string): void {
    const entry = this.own.get(deviceId);
    if (!entry) return;
    this.own.delete(deviceId);
    this.write(entry, async () => {
      if (entry.revision !== null) await this.deps.kv.delete(deviceId, { previousSeq: entry.revision });
    }, deviceId);
  }

  /** Stops watching and refreshing; waits (a little) for the last releases to be written. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.refreshTimer);
    clearInterval(this.sweepTimer);
    this.watcher?.stop();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.writes), new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)))]);
    clearTimeout(timer);
  }

  /** (Re)starts the watch over the bucket's last values and its changes; resolves once they are loaded. */
  private async watch(): Promise<void> {
    let initialized: () => void = () => undefined;
    const loaded = new Promise<void>((resolve) => (initialized = resolve));
    const watcher = await this.deps.kv.watch({ initializedFn: () => initialized() });
    this.watcher?.stop();
    this.watcher = watcher;
    void (async () => {
      for await (const entry of watcher) this.onEntry(entry);
    })().catch((err: unknown) => {
      if (!this.closed && this.watcher === watcher) this.deps.log.error({ err }, 'presence watch ended');
    });
    await loaded;
  }

  private value(): Uint8Array {
    return encode({ node: this.deps.nodeId });
  }

  /** Queues a write of one key behind the previous ones; a failure is logged (the next refresh repairs it). */
  private write(entry: OwnEntry, op: () => Promise<void>, deviceId: string): void {
    const next = entry.chain.then(op).catch((err: unknown) => {
      if (!this.closed) this.deps.log.warn({ err, deviceId }, 'presence entry not written');
    });
    entry.chain = next;
    this.writes.add(next);
    void next.finally(() => this.writes.delete(next));
  }

  private onEntry(entry: KvEntry): void {
    const id = entry.key;
    const remote = this.remote.get(id);
    if (entry.operation !== 'PUT') {
      if (remote && remote.revision < entry.revision) {
        this.remote.delete(id);
        this.offlineUnlessHeld(id);
      }
      return;
    }
    const value = parsePayload(PresenceValue, entry.value);
    if (!value) return;
    if (value.node === this.deps.nodeId) {
      if (remote && remote.revision < entry.revision) this.remote.delete(id);
      // Left by an earlier process with this node id (killed before it could release): nobody holds it.
      if (!this.own.has(id) && !this.deps.local.isConnected(id)) {
        this.deps.kv.delete(id, { previousSeq: entry.revision }).catch(() => undefined);
      }
      return;
    }
    if (remote && remote.revision > entry.revision) return;
    this.remote.set(id, { node: value.node, at: Math.min(this.now(), entry.created.getTime()), revision: entry.revision });
    const mine = this.own.get(id);
    if (mine) {
      if (mine.revision === null) mine.foreign = Math.max(mine.foreign, entry.revision);
      else if (entry.revision > mine.revision) this.superseded(id);
    }
    if (!this.deps.presence.isOnline(id)) this.deps.presence.connected(id);
  }

  /** The device reconnected through another node: our link goes (its close finds it gone from the router). */
  private superseded(deviceId: string): void {
    this.own.delete(deviceId);
    if (this.deps.local.disconnect(deviceId, 'DEVICE_SUPERSEDED')) this.deps.log.info({ deviceId }, 'device superseded by a link on another node');
  }

  private offlineUnlessHeld(deviceId: string): void {
    if (!this.deps.local.isConnected(deviceId) && this.deps.presence.isOnline(deviceId)) this.deps.presence.disconnected(deviceId);
  }

  private sweep(): void {
    if (this.down) return;
    const now = this.now();
    for (const [id, entry] of this.remote) {
      if (now - entry.at < this.deps.ttlMs) continue;
      this.remote.delete(id);
      this.offlineUnlessHeld(id);
    }
  }

  /** Rewrites every held key (compare-and-set on our last revision), so it stays younger than the TTL. */
  private refreshAll(): void {
    // Nothing can be written while the bus is down; the first refresh after it is back repairs every key.
    if (this.down) return;
    for (const [id, entry] of this.own) {
      this.write(entry, () => this.refresh(id, entry), id);
    }
  }

  private async refresh(deviceId: string, entry: OwnEntry): Promise<void> {
    if (this.own.get(deviceId) !== entry) return;
    const { kv } = this.deps;
    try {
      entry.revision = entry.revision === null ? await kv.put(deviceId, this.value()) : await kv.update(deviceId, this.value(), entry.revision);
      return;
    } catch (err) {
      if (this.own.get(deviceId) !== entry) return;
      this.deps.log.debug({ err, deviceId }, 'presence refresh refused; reading the entry');
    }
    // Written since our last write: by another node (it holds the device now), or the entry aged out.
    const current = await kv.get(deviceId);
    if (this.own.get(deviceId) !== entry) return;
    if (current?.operation === 'PUT') {
      const value = parsePayload(PresenceValue, current.value);
      if (value?.node !== this.deps.nodeId) {
        this.superseded(deviceId);
        return;
      }
      entry.revision = await kv.update(deviceId, this.value(), current.revision);
      return;
    }
    entry.revision = await kv.create(deviceId, this.value());
  }
}
