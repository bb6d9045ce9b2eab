import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { ConfigReport, TetherError, type ConfigDeviceStatus, type ConfigFleetStatus, type ConfigLayer, type EffectiveConfig } from '../../protocol/index.js';
import type { DeviceDirectory, DeviceEntry } from '../devices/device-directory.js';
import type { DeviceRouter } from '../devices/device-router.js';
import type { FleetEvent } from '../devices/fleet-events.js';
import type { ConfigStore, DeviceConfigState } from './config-store.js';
import { canonicalJson, layerApplies, mergeForDevice, orderLayers, type MergedConfig } from './layer-merge.js';

/** The agent runs its apply hook (30 s by default) before answering; this leaves room for it and the round trip. */
export const DEFAULT_APPLY_TIMEOUT_MS = 60_000;
/**
 * Longest a slice of a fleet-wide refresh works before it yields the event loop. Well under the
 * 50 ms the loop may be held at most, leaving room for one device's overrun and a GC pause.
 */
export const DEFAULT_SLICE_BUDGET_MS = 10;
/** How long a status read waits for a fleet-wide refresh in progress before answering with what is stored. */
const STATUS_WAIT_MS = 10_000;
/** Devices whose stored desired hash a slice reads at once, ahead of visiting them. */
const STATE_CHUNK = 500;
/** Reports written per turn of the event loop; a larger burst is written over the next turns. */
const REPORTS_PER_WRITE = 500;
/**
 * `config.apply` requests out at once, fleet-wide. Answers come back together (one poll of the
 * event loop reads every reply that has arrived), and a slow fleet answers a whole pass's worth
 * at once: the cap bounds that burst. The answers free slots; the queued sends that fill them
 * go out after the poll, a budgeted batch per turn of the event loop (QUEUED_SEND_BUDGET_MS).
 */
export const DEFAULT_MAX_APPLIES_IN_FLIGHT = 256;
/** Longest a turn of the event loop spends starting queued sends (each is a seal and a socket write). */
const QUEUED_SEND_BUDGET_MS = 5;
/** Pause before a refresh that failed (the store refused a write) is tried again from the start. */
const RETRY_MS = 1_000;

export interface ConfigDeliveryDeps {
  store: ConfigStore;
  /** Names, status and tags of every device, from memory (the device directory). */
  devices: Pick<DeviceDirectory, 'get' | 'ids' | 'values'>;
  router: DeviceRouter;
  /**
   * The devices this instance pushes to (default: every connected one). A cluster node pushes
   * only to the devices whose channel it holds, and its passes skip the devices another node
   * holds: each node runs a pass per change, and the holder's pass is the one that compares,
   * writes and pushes (a pass that wrote first would leave the holder nothing "changed" to push).
   */
  delivers?: (deviceId: string) => boolean;
  log: Logger;
  applyTimeoutMs?: number;
  maxAppliesInFlight?: number;
  now?: () => number;
  sliceBudgetMs?: number;
  /** The clock slices are timed on (milliseconds, monotonic). */
  clock?: () => number;
  /** Runs the next slice after the event loop has had its turn. */
  defer?: (next: () => Promise<void>) => void;
}

function hashOf(config: MergedConfig['config']): string {
  return createHash('sha256').update(canonicalJson(config)).digest('base64url');
}

/** The layers in merge order with the revision number a config computed from them carries. */
interface Snapshot {
  version: number;
  layers: ConfigLayer[];
}

/** A fleet-wide refresh in progress: the devices it still has to visit, and what is stored for each. */
interface Pass extends Snapshot {
  /** The directory's ids, rotated to begin at `offset`. */
  ids: string[];
  offset: number;
  next: number;
  /** How many of `ids` have had their stored desired hash read into `desired`. */
  loaded: number;
  /** Desired hash per device as stored: read a chunk ahead of the visits, kept current by every write since. */
  desired: Map<string, string>;
  /**
   * Effective configs by the layers that apply (devices under the same layers get the same
   * config): most of a fleet shares its layers, so a pass merges and hashes once per distinct set.
   */
  merged: Map<string, { config: EffectiveConfig['config']; hash: string }>;
  changed: number;
  pushed: number;
  slices: number;
  startedAt: number;
}

/** A device whose desired config a slice changed, with the directory entry it was computed from. */
interface Changed {
  deviceId: string;
  version: number;
  hash: string;
  config: EffectiveConfig['config'];
  entry: DeviceEntry;
}

/** What a slice leaves to do: go on with the pass, nothing, or start over after a pause (the store failed). */
type SliceOutcome = 'continue' | 'idle' | 'retry';

/** Times a device's reconciliation starts again because the layers changed while it ran. */
const RECONCILE_ATTEMPTS = 3;

/**
 * Keeps each device's desired config current and delivers it: recomputes effective configs on
 * every change, records a new desired version only for devices whose effective config changed,
 * and sends `config.apply` to the connected ones (and to each device when it connects). At most
 * one apply is in flight per device; changes meanwhile coalesce into one more send of the newest.
 *
 * A change to the layers is worked through in time-boxed slices with the event loop free in
 * between, so the request that made it answers at once and nothing else stalls on a large
 * fleet. A change arriving during a pass abandons it and starts a new one over every device from
 * the newest layers, beginning where the old one stopped: every config pushed in a slice is the
 * newest there is when it is sent (a device whose layers or record changed while its slice wrote
 * is recomputed at send time instead). One slice runs at a time; its store write is the only
 * await in it, so the event loop is held only by the bounded work either side of it.
 */
export class ConfigDelivery {
  /** The layers as last read, shared by every reader until a change; a read started before a change is never cached after it. */
  private snapshot: Promise<Snapshot> | null = null;
  private readonly inFlight = new Set<string>();
  private readonly again = new Set<string>();
  /** Devices waiting for a free slot under the in-flight cap, in order, with the config a slice computed for them (if any). */
  private readonly queued = new Map<string, { version: number; config: EffectiveConfig['config'] } | undefined>();
  private readonly maxInFlight: number;
  private queuedScheduled = false;
  private readonly now: () => number;
  private readonly clock: () => number;
  private readonly defer: (next: () => Promise<void>) => void;
  private readonly budgetMs: number;
  private closed = false;
  /** A layer changed since the last pass started: the next slice starts a new one. */
  private passDue = false;
  private startingPass = false;
  private pass: Pass | null = null;
  /** A slice is queued or running. */
  private sliceScheduled = false;
  private running: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Where in the directory's order the next pass begins: where an abandoned one stopped. */
  private resumeAt = 0;
  /**
   * Measured ms per changed device of writing and sending, which a slice leaves room for. The
   * prior is on the high side (a sealed frame, its share of the write, a loaded machine): the
   * first slice of a change must not overrun while the estimate is still learning.
   */
  private sendCostMs = 0.25;
  private readonly idleWaiters = new Set<() => void>();
  private readonly reports = new Map<string, ConfigReport & { at: number }>();
  private reportsScheduled = false;

  constructor(private readonly deps: ConfigDeliveryDeps) {
    this.now = deps.now ?? Date.now;
    this.clock = deps.clock ?? (() => performance.now());
    this.defer = deps.defer ?? ((next) => setImmediate(() => void next()));
    this.budgetMs = deps.sliceBudgetMs ?? DEFAULT_SLICE_BUDGET_MS;
    this.maxInFlight = deps.maxAppliesInFlight ?? DEFAULT_MAX_APPLIES_IN_FLIGHT;
  }

  /** Fleet events that matter here: a device connecting, or its record (tags, approval) changing. */
  onFleetEvent(event: FleetEvent): void {
    let refresh: Promise<void> | undefined;
    if (event.type === 'device.status' && event.online) {
      const entry = this.deps.devices.get(event.id);
      if (entry?.status === 'active' && this.handles(event.id)) refresh = this.refreshDevice(entry, true);
    } else if (event.type === 'device.upsert' && event.device.status === 'active' && this.handles(event.device.id)) {
      refresh = this.refreshDevice(event.device, false);
    }
    refresh?.catch((err: unknown) => this.deps.log.error({ err, event: event.type }, 'config delivery failed to handle a fleet event'));
  }

  /**
   * After a layer changed (and the change committed): schedules new desired versions for the
   * devices whose effective config changed, and pushes to those online. Returns at once; the work
   * runs in slices.
   */
  refreshAll(): void {
    this.snapshot = null;
    if (this.pass) {
      // The next pass goes on from here and comes round to the start last, so a stream of changes
      // each landing mid-pass still reaches every device in turn instead of only the first ones.
      const { offset, next, ids } = this.pass;
      this.resumeAt = ids.length > 0 ? (offset + next) % ids.length : 0;
      this.pass = null;
    }
    this.passDue = true;
    this.scheduleSlice();
  }

  /** Whether a fleet-wide refresh is due or running. */
  get refreshing(): boolean {
    return this.passDue || this.startingPass || this.pass !== null;
  }

  /** Resolves once no fleet-wide refresh is due or running, or after `maxMs`, whichever comes first. */
  idle(maxMs: number): Promise<void> {
    if (!this.refreshing || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.idleWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, maxMs);
      this.idleWaiters.add(done);
    });
  }

  /**
   * The effective config of a device, where each value came from, and its delivery state. A
   * device that a refresh in progress has not reached yet is brought up to date first, so the
   * version shown is the one its config carries.
   */
  async effective(deviceId: string): Promise<EffectiveConfig> {
    const entry = this.deps.devices.get(deviceId);
    if (!entry) throw new TetherError('DEVICE_UNKNOWN', `No device ${deviceId}`);
    if (entry.status !== 'revoked') await this.refreshDevice(entry, false);
    await this.flushReports(Infinity);
    const merged = mergeForDevice((await this.current()).layers, entry.id, entry.tags);
    const state = await this.deps.store.deviceState(entry.id);
    return { deviceId: entry.id, version: state?.desiredVersion ?? 0, config: merged.config, sources: merged.sources, layers: merged.layers, status: this.statusOf(entry, state) };
  }

  /** What a device's effective config would be with layer `layerId` holding `values` (a draft not saved yet). */
  async preview(deviceId: string, layerId: string, values: ConfigLayer['values']): Promise<MergedConfig & { deviceId: string }> {
    const device = this.deps.devices.get(deviceId);
    if (!device) throw new TetherError('DEVICE_UNKNOWN', `No device ${deviceId}`);
    const current = (await this.current()).layers;
    const existing = current.find((l) => l.id === layerId);
    const kind = layerId === 'fleet' ? 'fleet' : layerId.startsWith('group:') ? 'group' : 'device';
    // A new group layer has no selector yet, so it applies to no device until saved with one.
    const draft: ConfigLayer = existing ? { ...existing, values } : { id: layerId, kind, selector: {}, priority: 0, values, version: 0, updatedAt: null, updatedBy: null };
    const layers = orderLayers([...current.filter((l) => l.id !== layerId), draft]);
    return { deviceId: device.id, ...mergeForDevice(layers, device.id, device.tags) };
  }

  /** Every device's delivery state; waits (a bounded time) for a refresh in progress, so no device shows a half-applied change. */
  async fleetStatus(): Promise<ConfigFleetStatus> {
    await this.idle(STATUS_WAIT_MS);
    await this.flushReports(Infinity);
    const states = new Map((await this.deps.store.deviceStates()).map((s) => [s.deviceId, s]));
    const devices: ConfigDeviceStatus[] = [];
    for (const entry of this.deps.devices.values()) if (entry.status !== 'revoked') devices.push(this.statusOf(entry, states.get(entry.id)));
    return { devices: devices.sort((a, b) => compareText(a.name, b.name) || compareText(a.deviceId, b.deviceId)) };
  }

  /** Stops delivering; resolves once a slice in progress and the reports received are written. */
  async close(): Promise<void> {
    this.closed = true;
    this.pass = null;
    this.passDue = false;
    clearTimeout(this.retryTimer);
    for (const done of [...this.idleWaiters]) done();
    await this.running;
    await this.flushReports(Infinity);
  }

  /** The layers and version, read once per change. */
  private current(): Promise<Snapshot> {
    if (this.snapshot) return this.snapshot;
    const read = this.deps.store.snapshot().then((s) => ({ version: s.version, layers: orderLayers(s.layers) }));
    this.snapshot = read;
    // A failed read is not kept: the next caller reads again.
    read.catch(() => {
      if (this.snapshot === read) this.snapshot = null;
    });
    return read;
  }

  private scheduleSlice(): void {
    if (this.sliceScheduled || this.closed) return;
    this.sliceScheduled = true;
    this.defer(() => (this.running = this.slice()));
  }

  private async slice(): Promise<void> {
    let outcome: SliceOutcome = 'idle';
    try {
      if (!this.closed) outcome = await this.runSlice();
    } catch (err) {
      // Started over from the beginning: the pass's picture of what is stored may be wrong now.
      this.deps.log.error({ err }, 'config refresh failed; retrying');
      this.pass = null;
      this.passDue = true;
      outcome = 'retry';
    } finally {
      this.sliceScheduled = false;
    }
    if (this.closed) return;
    if (outcome === 'retry') {
      this.retryTimer = setTimeout(() => this.scheduleSlice(), RETRY_MS);
      this.retryTimer.unref();
    } else if (outcome === 'continue' || this.passDue) {
      this.scheduleSlice();
    }
  }

  /**
   * One slice of a fleet-wide refresh: visits devices until the budget, less the measured cost
   * of writing and sending what changed, is spent (always at least one, so a pass ends), then
   * writes their desired states in one go and pushes to the connected ones.
   */
  private async runSlice(): Promise<SliceOutcome> {
    if (this.passDue) {
      this.passDue = false;
      // Still refreshing while the pass is read: a status asked for now waits for it.
      this.startingPass = true;
      let pass: Pass;
      try {
        pass = await this.startPass();
      } finally {
        this.startingPass = false;
      }
      // A change landed while the pass was being read: it starts over from the newest layers.
      if (this.passDue || this.closed) return 'idle';
      this.pass = pass;
      this.resumeAt = 0;
      // Reading the layers is a slice's work of its own (and on a server, a wait that would
      // otherwise eat this slice's budget): the devices are visited from the next one.
      return 'continue';
    }
    const pass = this.pass;
    if (!pass) return 'idle';
    const started = this.clock();
    if (pass.next >= pass.loaded) {
      // What is stored is read a chunk at a time, so no slice holds the loop for the whole fleet's rows.
      const chunk = pass.ids.slice(pass.loaded, pass.loaded + STATE_CHUNK);
      const stored = await this.deps.store.desiredHashes(chunk);
      if (this.pass !== pass) return 'idle';
      // A device reconciled meanwhile is already in the map, with what it wrote: that is newer.
      for (const [id, hash] of stored) if (!pass.desired.has(id)) pass.desired.set(id, hash);
      pass.loaded += chunk.length;
    }
    const changed: Changed[] = [];
    let visited = 0;
    while (pass.next < pass.loaded) {
      if (visited > 0 && this.clock() - started + changed.length * this.sendCostMs >= this.budgetMs) break;
      const id = pass.ids[pass.next++] ?? '';
      visited++;
      const entry = this.deps.devices.get(id);
      if (!entry || entry.status === 'revoked') continue;
      // Held by another cluster node: that node's pass (every node runs one per change) writes and pushes it.
      if (!this.handles(id)) continue;
      const { config, hash } = effectiveIn(pass, id, entry.tags);
      if (pass.desired.get(id) === hash) continue;
      pass.desired.set(id, hash);
      changed.push({ deviceId: id, version: pass.version, hash, config, entry });
    }
    const sendStarted = this.clock();
    await this.deps.store.setDesired(changed);
    const abandoned = this.pass !== pass;
    for (const { deviceId, version, config, entry } of changed) {
      if (!this.delivers(deviceId)) continue;
      // Merged above for the hash: the device is not merged a second time to send it, unless the
      // layers or its record changed during the write, when the send computes the newest.
      this.push(deviceId, !abandoned && this.deps.devices.get(deviceId) === entry ? { version, config } : undefined);
      pass.pushed++;
    }
    if (changed.length > 0) {
      // Up at once, down slowly: an overrun costs the event loop, a low estimate only a few more slices.
      const measured = (this.clock() - sendStarted) / changed.length;
      this.sendCostMs = Math.max(measured, (3 * this.sendCostMs + measured) / 4);
    }
    pass.changed += changed.length;
    pass.slices++;
    if (abandoned) return 'idle';
    if (pass.next < pass.ids.length) return 'continue';
    this.pass = null;
    this.deps.log.info({ version: pass.version, changed: pass.changed, pushed: pass.pushed, slices: pass.slices, ms: Math.round(this.clock() - pass.startedAt) }, 'config change delivered');
    if (!this.passDue) for (const done of [...this.idleWaiters]) done();
    return 'idle';
  }

  private async startPass(): Promise<Pass> {
    const snapshot = await this.current();
    const all = this.deps.devices.ids();
    const offset = Math.min(this.resumeAt, all.length);
    const ids = offset === 0 ? all : [...all.slice(offset), ...all.slice(0, offset)];
    return { ...snapshot, ids, offset, next: 0, loaded: 0, desired: new Map(), merged: new Map(), changed: 0, pushed: 0, slices: 0, startedAt: this.clock() };
  }

  /**
   * Brings one device's desired state up to the current layers. Reads what is stored rather than
   * a pass's snapshot, and tells the pass, so the pass neither undoes nor repeats it. When the
   * layers change while it runs it goes again, so that what it stores last is the newest.
   */
  private async reconcile(entry: DeviceEntry): Promise<{ version: number; config: EffectiveConfig['config']; changed: boolean }> {
    let changed = false;
    for (let attempt = 1; ; attempt++) {
      const snapshot = this.current();
      const { version, layers } = await snapshot;
      const { config } = mergeForDevice(layers, entry.id, entry.tags);
      const hash = hashOf(config);
      const state = await this.deps.store.deviceState(entry.id);
      let stored = version;
      if (state?.desiredHash === hash) {
        stored = state.desiredVersion;
      } else {
        await this.deps.store.setDesired([{ deviceId: entry.id, version, hash }]);
        changed = true;
      }
      if (snapshot === this.snapshot || attempt >= RECONCILE_ATTEMPTS) {
        this.pass?.desired.set(entry.id, hash);
        return { version: stored, config, changed };
      }
    }
  }

  /** Recomputes one device (its tags may have changed); `always` pushes even when nothing changed (a reconnect). */
  private async refreshDevice(entry: DeviceEntry, always: boolean): Promise<void> {
    const current = await this.reconcile(entry);
    if ((current.changed || always) && entry.status === 'active' && this.delivers(entry.id)) this.push(entry.id, current);
  }

  /**
   * Whether this instance reconciles the device on a fleet event. On a cluster every node hears
   * the event; when another node holds the device, that node's reconcile is the one that must
   * find the change (and push it), so this one keeps out.
   */
  private handles(deviceId: string): boolean {
    return !this.deps.delivers || this.deps.delivers(deviceId) || !this.deps.router.isConnected(deviceId);
  }

  private delivers(deviceId: string): boolean {
    return this.deps.delivers ? this.deps.delivers(deviceId) : this.deps.router.isConnected(deviceId);
  }

  private statusOf(entry: DeviceEntry, state: DeviceConfigState | undefined): ConfigDeviceStatus {
    return statusOf(entry, this.deps.router.isConnected(entry.id), state);
  }

  /**
   * Reports arrive in bursts (a slice's worth of devices answer together, and one poll of the
   * event loop reads them all), so they are written in one statement per turn of the loop
   * rather than one each; reads flush them first.
   */
  private queueReport(deviceId: string, report: ConfigReport): void {
    this.reports.set(deviceId, { ...report, at: this.now() });
    if (this.reportsScheduled) return;
    this.reportsScheduled = true;
    setImmediate(() => void this.flushReports());
  }

  /** Writes up to `limit` queued reports (reads pass no limit: they must see every report received). */
  private async flushReports(limit = REPORTS_PER_WRITE): Promise<void> {
    this.reportsScheduled = false;
    if (this.reports.size === 0) return;
    const reports: Array<[string, ConfigReport & { at: number }]> = [];
    for (const entry of this.reports) {
      if (reports.length >= limit) break;
      reports.push(entry);
    }
    for (const [deviceId] of reports) this.reports.delete(deviceId);
    if (this.reports.size > 0) {
      this.reportsScheduled = true;
      setImmediate(() => void this.flushReports());
    }
    try {
      await this.deps.store.setReported(reports.map(([deviceId, report]) => ({ deviceId, ...report })));
    } catch (err) {
      this.deps.log.error({ err, reports: reports.length }, 'config reports not stored');
      return;
    }
    for (const [deviceId, report] of reports) {
      // Applied is the normal case: one line per device per change would be the bulk of the log.
      this.deps.log[report.status === 'applied' ? 'debug' : 'warn']({ deviceId, ...report }, 'config reported');
    }
  }

  /** Computed at send time, so what goes out after an apply in flight is the newest desired config with its version. */
  private async latestFor(deviceId: string): Promise<{ version: number; config: EffectiveConfig['config'] } | undefined> {
    const entry = this.deps.devices.get(deviceId);
    return entry && entry.status !== 'revoked' ? this.reconcile(entry) : undefined;
  }

  /** `current` is the newest desired config when the caller has just computed it; otherwise it is computed at send time. */
  private push(deviceId: string, current?: { version: number; config: EffectiveConfig['config'] }): void {
    if (this.closed) return;
    if (this.inFlight.has(deviceId)) {
      this.again.add(deviceId);
      return;
    }
    if (this.inFlight.size >= this.maxInFlight || this.queued.size > 0) {
      // Queued again: the newer config replaces the one waiting (its place in the queue is kept).
      this.queued.set(deviceId, current);
      this.scheduleQueued();
      return;
    }
    this.inFlight.add(deviceId);
    void this.send(deviceId, current);
  }

  /** Starts the queued sends after this turn's I/O, unless already due. */
  private scheduleQueued(): void {
    if (this.queuedScheduled || this.queued.size === 0 || this.inFlight.size >= this.maxInFlight) return;
    this.queuedScheduled = true;
    setImmediate(() => {
      this.queuedScheduled = false;
      this.sendQueued();
    });
  }

  /** Starts queued sends while there is room under the cap and time in this turn's budget; the rest go on the next turn. */
  private sendQueued(): void {
    const started = this.clock();
    for (const [deviceId, current] of this.queued) {
      if (this.inFlight.size >= this.maxInFlight || this.closed) return;
      if (this.clock() - started >= QUEUED_SEND_BUDGET_MS) {
        this.scheduleQueued();
        return;
      }
      this.queued.delete(deviceId);
      if (this.inFlight.has(deviceId)) {
        this.again.add(deviceId);
        continue;
      }
      if (!this.delivers(deviceId)) continue;
      this.inFlight.add(deviceId);
      void this.send(deviceId, current);
    }
  }

  private async send(deviceId: string, current?: { version: number; config: EffectiveConfig['config'] }): Promise<void> {
    try {
      // With `current` given the request goes out now, in the caller's turn of the event loop.
      const latest = current ?? (await this.latestFor(deviceId));
      if (!latest || this.closed) return;
      const { version, config } = latest;
      const result = await this.deps.router.request(deviceId, 'config.apply', { version, config }, this.deps.applyTimeoutMs ?? DEFAULT_APPLY_TIMEOUT_MS);
      const report = ConfigReport.safeParse(result);
      if (!report.success) throw new TetherError('MESSAGE_MALFORMED', 'config.apply answered with something that is not a report');
      if (this.closed) return;
      this.queueReport(deviceId, report.data);
    } catch (err) {
      // Offline: the device gets the newest config when it reconnects.
      const code = err instanceof Error && 'code' in err ? String(err.code) : 'INTERNAL';
      if (code !== 'DEVICE_OFFLINE') this.deps.log.warn({ deviceId, code }, 'config delivery failed');
    } finally {
      this.inFlight.delete(deviceId);
      if (this.again.delete(deviceId) && this.delivers(deviceId)) this.push(deviceId);
      this.scheduleQueued();
    }
  }
}

/** A device's effective config and its hash in a pass, merged once per distinct set of applying layers. */
function effectiveIn(pass: Pass, deviceId: string, tags: DeviceEntry['tags']): { config: EffectiveConfig['config']; hash: string } {
  let key = '';
  for (const layer of pass.layers) if (layerApplies(layer, deviceId, tags)) key += `${layer.id}\n`;
  let effective = pass.merged.get(key);
  if (effective === undefined) {
    const { config } = mergeForDevice(pass.layers, deviceId, tags);
    effective = { config, hash: hashOf(config) };
    pass.merged.set(key, effective);
  }
  return effective;
}

/** Code-unit order, as the device list (SQLite's binary collation) sorts names. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function statusOf(device: DeviceEntry, online: boolean, state: DeviceConfigState | undefined): ConfigDeviceStatus {
  const desiredVersion = state?.desiredVersion ?? 0;
  const reported = state?.reported ?? null;
  const current = reported !== null && reported.version === desiredVersion;
  const stateName = current ? reported.status : 'pending';
  return { deviceId: device.id, name: device.name, online, desiredVersion, reported, state: stateName, drift: stateName !== 'applied' };
}
