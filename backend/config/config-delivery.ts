import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { ConfigReport, TetherError, type ConfigDeviceStatus, type ConfigFleetStatus, type ConfigLayer, type EffectiveConfig } from '../../protocol/index.js';
import type { DeviceDirectory, DeviceEntry } from '../devices/device-directory.js';
import type { DeviceRouter } from '../devices/device-router.js';
import type { FleetEvent } from '../devices/fleet-events.js';
import type { ConfigRepo, DeviceStateRow } from './config-repo.js';
import { canonicalJson, mergeForDevice, orderLayers, type MergedConfig } from './layer-merge.js';

/** The agent runs its apply hook (30 s by default) before answering; this leaves room for it and the round trip. */
export const DEFAULT_APPLY_TIMEOUT_MS = 60_000;
/**
 * Longest a slice of a fleet-wide refresh works before it yields the event loop. Well under the
 * 50 ms the loop may be held at most, leaving room for one device's overrun and a GC pause.
 */
export const DEFAULT_SLICE_BUDGET_MS = 20;
/** How long a status read waits for a fleet-wide refresh in progress before answering with what is stored. */
const STATUS_WAIT_MS = 10_000;
/** Pause before a refresh that failed (the store refused a write) is tried again from the start. */
const RETRY_MS = 1_000;

export interface ConfigDeliveryDeps {
  repo: ConfigRepo;
  /** Names, status and tags of every device, from memory (the device directory). */
  devices: Pick<DeviceDirectory, 'get' | 'ids' | 'values'>;
  router: DeviceRouter;
  log: Logger;
  applyTimeoutMs?: number;
  now?: () => number;
  sliceBudgetMs?: number;
  /** The clock slices are timed on (milliseconds, monotonic). */
  clock?: () => number;
  /** Runs the next slice after the event loop has had its turn. */
  defer?: (next: () => void) => void;
}

function hashOf(config: MergedConfig['config']): string {
  return createHash('sha256').update(canonicalJson(config)).digest('base64url');
}

/** A fleet-wide refresh in progress: the devices it still has to visit, and what is stored for each. */
interface Pass {
  version: number;
  /** The directory's ids, rotated to begin at `offset`. */
  ids: string[];
  offset: number;
  next: number;
  /** Desired hash per device as stored: read at the start, kept current by every write since. */
  desired: Map<string, string>;
  changed: number;
  pushed: number;
  slices: number;
  startedAt: number;
}

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
 * newest there is when it is sent.
 */
export class ConfigDelivery {
  private ordered: ConfigLayer[] | null = null;
  private readonly inFlight = new Set<string>();
  private readonly again = new Set<string>();
  private readonly now: () => number;
  private readonly clock: () => number;
  private readonly defer: (next: () => void) => void;
  private readonly budgetMs: number;
  private closed = false;
  /** A layer changed since the last pass started: the next slice starts a new one. */
  private passDue = false;
  private pass: Pass | null = null;
  private sliceScheduled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Where in the directory's order the next pass begins: where an abandoned one stopped. */
  private resumeAt = 0;
  /** Measured ms per changed device of writing and sending, which a slice leaves room for; the prior is a sealed frame's order of magnitude. */
  private sendCostMs = 0.05;
  private readonly idleWaiters = new Set<() => void>();
  private readonly reports = new Map<string, ConfigReport & { at: number }>();
  private reportsScheduled = false;

  constructor(private readonly deps: ConfigDeliveryDeps) {
    this.now = deps.now ?? Date.now;
    this.clock = deps.clock ?? (() => performance.now());
    this.defer = deps.defer ?? ((next) => setImmediate(next));
    this.budgetMs = deps.sliceBudgetMs ?? DEFAULT_SLICE_BUDGET_MS;
  }

  /** Fleet events that matter here: a device connecting, or its record (tags, approval) changing. */
  onFleetEvent(event: FleetEvent): void {
    try {
      if (event.type === 'device.status' && event.online) {
        const entry = this.deps.devices.get(event.id);
        if (entry?.status === 'active') this.refreshDevice(entry, true);
      } else if (event.type === 'device.upsert' && event.device.status === 'active') {
        this.refreshDevice(event.device, false);
      }
    } catch (err) {
      this.deps.log.error({ err, event: event.type }, 'config delivery failed to handle a fleet event');
    }
  }

  /**
   * After a layer changed: schedules new desired versions for the devices whose effective config
   * changed, and pushes to those online. Returns at once; the work runs in slices.
   */
  refreshAll(): void {
    this.ordered = null;
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
    return this.passDue || this.pass !== null;
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
  effective(deviceId: string): EffectiveConfig {
    const entry = this.deps.devices.get(deviceId);
    if (!entry) throw new TetherError('DEVICE_UNKNOWN', `No device ${deviceId}`);
    if (entry.status !== 'revoked') this.refreshDevice(entry, false);
    this.flushReports();
    const merged = mergeForDevice(this.layers(), entry.id, entry.tags);
    const state = this.deps.repo.deviceState(entry.id);
    return { deviceId: entry.id, version: state?.desired_version ?? 0, config: merged.config, sources: merged.sources, layers: merged.layers, status: this.statusOf(entry, state) };
  }

  /** What a device's effective config would be with layer `layerId` holding `values` (a draft not saved yet). */
  preview(deviceId: string, layerId: string, values: ConfigLayer['values']): MergedConfig & { deviceId: string } {
    const device = this.deps.devices.get(deviceId);
    if (!device) throw new TetherError('DEVICE_UNKNOWN', `No device ${deviceId}`);
    const current = this.layers();
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
    this.flushReports();
    const states = this.deps.repo.deviceStates();
    const devices: ConfigDeviceStatus[] = [];
    for (const entry of this.deps.devices.values()) if (entry.status !== 'revoked') devices.push(this.statusOf(entry, states.get(entry.id)));
    return { devices: devices.sort((a, b) => compareText(a.name, b.name) || compareText(a.deviceId, b.deviceId)) };
  }

  close(): void {
    this.flushReports();
    this.closed = true;
    this.pass = null;
    this.passDue = false;
    clearTimeout(this.retryTimer);
    for (const done of [...this.idleWaiters]) done();
  }

  private layers(): ConfigLayer[] {
    return (this.ordered ??= orderLayers(this.deps.repo.layers()));
  }

  private scheduleSlice(): void {
    if (this.sliceScheduled || this.closed) return;
    this.sliceScheduled = true;
    this.defer(() => this.slice());
  }

  /**
   * One slice of a fleet-wide refresh: visits devices until the budget, less the measured cost
   * of writing and sending what changed, is spent (always at least one, so a pass ends), then
   * writes their desired states in one transaction and pushes to the connected ones.
   */
  private slice(): void {
    this.sliceScheduled = false;
    if (this.closed) return;
    const started = this.clock();
    try {
      if (this.passDue) {
        this.passDue = false;
        this.pass = this.startPass();
      }
      const pass = this.pass;
      if (!pass) return;
      const layers = this.layers();
      const changed: Array<{ deviceId: string; version: number; hash: string; config: EffectiveConfig['config'] }> = [];
      let visited = 0;
      while (pass.next < pass.ids.length) {
        if (visited > 0 && this.clock() - started + changed.length * this.sendCostMs >= this.budgetMs) break;
        const id = pass.ids[pass.next++] ?? '';
        visited++;
        const entry = this.deps.devices.get(id);
        if (!entry || entry.status === 'revoked') continue;
        const { config } = mergeForDevice(layers, id, entry.tags);
        const hash = hashOf(config);
        if (pass.desired.get(id) === hash) continue;
        pass.desired.set(id, hash);
        changed.push({ deviceId: id, version: pass.version, hash, config });
      }
      const sendStarted = this.clock();
      this.deps.repo.setDesired(changed);
      for (const { deviceId, version, config } of changed) {
        if (!this.deps.router.isConnected(deviceId)) continue;
        // Merged above for the hash: the device is not merged a second time to send it.
        this.push(deviceId, { version, config });
        pass.pushed++;
      }
      if (changed.length > 0) this.sendCostMs = (this.sendCostMs + (this.clock() - sendStarted) / changed.length) / 2;
      pass.changed += changed.length;
      pass.slices++;
      if (pass.next < pass.ids.length) {
        this.scheduleSlice();
        return;
      }
      this.pass = null;
      this.deps.log.info({ version: pass.version, changed: pass.changed, pushed: pass.pushed, slices: pass.slices, ms: Math.round(this.clock() - pass.startedAt) }, 'config change delivered');
      if (!this.passDue) for (const done of [...this.idleWaiters]) done();
    } catch (err) {
      // Started over from the beginning: the pass's picture of what is stored may be wrong now.
      this.deps.log.error({ err }, 'config refresh failed; retrying');
      this.pass = null;
      this.passDue = true;
      this.retryTimer = setTimeout(() => this.scheduleSlice(), RETRY_MS);
      this.retryTimer.unref();
    }
  }

  private startPass(): Pass {
    const states = this.deps.repo.deviceStates();
    const desired = new Map<string, string>();
    for (const [id, state] of states) desired.set(id, state.desired_hash);
    const all = this.deps.devices.ids();
    const offset = Math.min(this.resumeAt, all.length);
    this.resumeAt = 0;
    const ids = offset === 0 ? all : [...all.slice(offset), ...all.slice(0, offset)];
    return { version: this.deps.repo.latestVersion(), ids, offset, next: 0, desired, changed: 0, pushed: 0, slices: 0, startedAt: this.clock() };
  }

  /**
   * Brings one device's desired state up to the current layers. Reads what is stored rather than
   * a pass's snapshot, and tells the pass, so the pass neither undoes nor repeats it.
   */
  private reconcile(entry: DeviceEntry): { version: number; config: EffectiveConfig['config']; changed: boolean } {
    const { config } = mergeForDevice(this.layers(), entry.id, entry.tags);
    const hash = hashOf(config);
    const state = this.deps.repo.deviceState(entry.id);
    if (state?.desired_hash === hash) return { version: state.desired_version, config, changed: false };
    const version = this.deps.repo.latestVersion();
    this.deps.repo.setDesired([{ deviceId: entry.id, version, hash }]);
    this.pass?.desired.set(entry.id, hash);
    return { version, config, changed: true };
  }

  /** Recomputes one device (its tags may have changed); `always` pushes even when nothing changed (a reconnect). */
  private refreshDevice(entry: DeviceEntry, always: boolean): void {
    const current = this.reconcile(entry);
    if ((current.changed || always) && entry.status === 'active' && this.deps.router.isConnected(entry.id)) this.push(entry.id, current);
  }

  private statusOf(entry: DeviceEntry, state: DeviceStateRow | undefined): ConfigDeviceStatus {
    return statusOf(entry, this.deps.router.isConnected(entry.id), state);
  }

  /**
   * Reports arrive in bursts (a slice's worth of devices answer together, and one poll of the
   * event loop reads them all), so they are written in one transaction per turn of the loop
   * rather than one each; reads flush them first.
   */
  private queueReport(deviceId: string, report: ConfigReport): void {
    this.reports.set(deviceId, { ...report, at: this.now() });
    if (this.reportsScheduled) return;
    this.reportsScheduled = true;
    setImmediate(() => this.flushReports());
  }

  private flushReports(): void {
    this.reportsScheduled = false;
    if (this.reports.size === 0) return;
    const reports = [...this.reports];
    this.reports.clear();
    try {
      this.deps.repo.setReported(reports.map(([deviceId, report]) => ({ deviceId, ...report })));
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
  private latestFor(deviceId: string): { version: number; config: EffectiveConfig['config'] } | undefined {
    const entry = this.deps.devices.get(deviceId);
    return entry && entry.status !== 'revoked' ? this.reconcile(entry) : undefined;
  }

  /** `current` is the newest desired config when the caller has just computed it; otherwise it is computed here. */
  private push(deviceId: string, current?: { version: number; config: EffectiveConfig['config'] }): void {
    if (this.closed) return;
    if (this.inFlight.has(deviceId)) {
      this.again.add(deviceId);
      return;
    }
    const latest = current ?? this.latestFor(deviceId);
    if (!latest) return;
    this.inFlight.add(deviceId);
    const { version, config } = latest;
    this.deps.router
      .request(deviceId, 'config.apply', { version, config }, this.deps.applyTimeoutMs ?? DEFAULT_APPLY_TIMEOUT_MS)
      .then((result) => {
        const report = ConfigReport.safeParse(result);
        if (!report.success) throw new TetherError('MESSAGE_MALFORMED', 'config.apply answered with something that is not a report');
        if (this.closed) return;
        this.queueReport(deviceId, report.data);
      })
      .catch((err: unknown) => {
        // Offline: the device gets the newest config when it reconnects.
        const code = err instanceof Error && 'code' in err ? String(err.code) : 'INTERNAL';
        if (code !== 'DEVICE_OFFLINE') this.deps.log.warn({ deviceId, code }, 'config delivery failed');
      })
      .finally(() => {
        this.inFlight.delete(deviceId);
        if (this.again.delete(deviceId) && this.deps.router.isConnected(deviceId)) this.push(deviceId);
      });
  }
}

/** Code-unit order, as the device list (SQLite's binary collation) sorts names. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function statusOf(device: DeviceEntry, online: boolean, state: DeviceStateRow | undefined): ConfigDeviceStatus {
  const desiredVersion = state?.desired_version ?? 0;
  const reported = state?.reported_status && state.reported_version !== null && state.reported_at !== null
    ? { version: state.reported_version, status: state.reported_status, error: state.reported_error, at: state.reported_at }
    : null;
  const current = reported !== null && reported.version === desiredVersion;
  const stateName = current ? reported.status : 'pending';
  return { deviceId: device.id, name: device.name, online, desiredVersion, reported, state: stateName, drift: stateName !== 'applied' };
}
