import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { ConfigReport, TetherError, type ConfigDeviceStatus, type ConfigFleetStatus, type ConfigLayer, type Device, type EffectiveConfig } from '../../protocol/index.js';
import type { DeviceRouter } from '../devices/device-router.js';
import type { FleetEvent } from '../devices/fleet-events.js';
import type { ConfigRepo, DeviceStateRow } from './config-repo.js';
import { canonicalJson, mergeForDevice, orderLayers, type MergedConfig } from './layer-merge.js';

/** The agent runs its apply hook (30 s by default) before answering; this leaves room for it and the round trip. */
export const DEFAULT_APPLY_TIMEOUT_MS = 60_000;

export interface ConfigDeliveryDeps {
  repo: ConfigRepo;
  devices: { list(): Device[]; get(id: string): Device };
  router: DeviceRouter;
  log: Logger;
  applyTimeoutMs?: number;
  now?: () => number;
}

function hashOf(config: MergedConfig['config']): string {
  return createHash('sha256').update(canonicalJson(config)).digest('base64url');
}

/**
 * Keeps each device's desired config current and delivers it: recomputes effective configs on
 * every change, records a new desired version only for devices whose effective config changed,
 * and sends `config.apply` to the connected ones (and to each device when it connects). At most
 * one apply is in flight per device; changes meanwhile coalesce into one more send of the newest.
 */
export class ConfigDelivery {
  private ordered: ConfigLayer[] | null = null;
  private readonly inFlight = new Set<string>();
  private readonly again = new Set<string>();
  private readonly now: () => number;
  private closed = false;

  constructor(private readonly deps: ConfigDeliveryDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Fleet events that matter here: a device connecting, or its record (tags, approval) changing. */
  onFleetEvent(event: FleetEvent): void {
    try {
      if (event.type === 'device.status' && event.online) this.refreshDevice(event.id, true);
      else if (event.type === 'device.upsert' && event.device.status === 'active') this.refreshDevice(event.device.id, false);
    } catch (err) {
      this.deps.log.error({ err, event: event.type }, 'config delivery failed to handle a fleet event');
    }
  }

  /** After a layer changed: new desired versions for the devices whose effective config changed, and pushes to those online. */
  refreshAll(): void {
    this.ordered = null;
    const layers = this.layers();
    const latest = this.deps.repo.latestVersion();
    const states = this.deps.repo.deviceStates();
    const changed: Array<{ deviceId: string; version: number; hash: string; config: EffectiveConfig['config'] }> = [];
    for (const device of this.deps.devices.list()) {
      if (device.status === 'revoked') continue;
      const { config } = mergeForDevice(layers, device.id, device.tags);
      const hash = hashOf(config);
      if (states.get(device.id)?.desired_hash !== hash) changed.push({ deviceId: device.id, version: latest, hash, config });
    }
    this.deps.repo.setDesired(changed);
    let pushed = 0;
    for (const { deviceId, version, config } of changed) {
      if (!this.deps.router.isConnected(deviceId)) continue;
      // Merged above for the hash: the fleet is not merged a second time on this request path.
      this.push(deviceId, { version, config });
      pushed++;
    }
    this.deps.log.info({ version: latest, changed: changed.length, pushed }, 'config change delivered');
  }

  /** The effective config of a device, where each value came from, and its delivery state. */
  effective(deviceId: string): EffectiveConfig {
    const device = this.deps.devices.get(deviceId);
    const merged = mergeForDevice(this.layers(), device.id, device.tags);
    const state = this.deps.repo.deviceState(device.id);
    return { deviceId: device.id, version: state?.desired_version ?? 0, config: merged.config, sources: merged.sources, layers: merged.layers, status: statusOf(device, state) };
  }

  /** What a device's effective config would be with layer `layerId` holding `values` (a draft not saved yet). */
  preview(deviceId: string, layerId: string, values: ConfigLayer['values']): MergedConfig & { deviceId: string } {
    const device = this.deps.devices.get(deviceId);
    const current = this.layers();
    const existing = current.find((l) => l.id === layerId);
    const kind = layerId === 'fleet' ? 'fleet' : layerId.startsWith('group:') ? 'group' : 'device';
    // A new group layer has no selector yet, so it applies to no device until saved with one.
    const draft: ConfigLayer = existing ? { ...existing, values } : { id: layerId, kind, selector: {}, priority: 0, values, version: 0, updatedAt: null, updatedBy: null };
    const layers = orderLayers([...current.filter((l) => l.id !== layerId), draft]);
    return { deviceId: device.id, ...mergeForDevice(layers, device.id, device.tags) };
  }

  fleetStatus(): ConfigFleetStatus {
    const states = this.deps.repo.deviceStates();
    return { devices: this.deps.devices.list().filter((d) => d.status !== 'revoked').map((d) => statusOf(d, states.get(d.id))) };
  }

  close(): void {
    this.closed = true;
  }

  private layers(): ConfigLayer[] {
    return (this.ordered ??= orderLayers(this.deps.repo.layers()));
  }

  /** Recomputes one device (its tags may have changed); `always` pushes even when nothing changed (a reconnect). */
  private desiredNow(deviceId: string): { version: number; config: EffectiveConfig['config'] } {
    const device = this.deps.devices.get(deviceId);
    const { config } = mergeForDevice(this.layers(), device.id, device.tags);
    return { version: this.deps.repo.deviceState(deviceId)?.desired_version ?? 0, config };
  }

  private refreshDevice(deviceId: string, always: boolean): void {
    const device = this.deps.devices.get(deviceId);
    if (device.status !== 'active') return;
    const hash = hashOf(mergeForDevice(this.layers(), device.id, device.tags).config);
    const changed = this.deps.repo.deviceState(device.id)?.desired_hash !== hash;
    if (changed) this.deps.repo.setDesired([{ deviceId: device.id, version: this.deps.repo.latestVersion(), hash }]);
    if ((changed || always) && this.deps.router.isConnected(device.id)) this.push(device.id);
  }

  /** `current` is the newest desired config when the caller has just computed it; otherwise it is computed here. */
  private push(deviceId: string, current?: { version: number; config: EffectiveConfig['config'] }): void {
    if (this.closed) return;
    if (this.inFlight.has(deviceId)) {
      this.again.add(deviceId);
      return;
    }
    this.inFlight.add(deviceId);
    // Computed at send time, so what goes out is always the newest desired config with its version.
    const { version, config } = current ?? this.desiredNow(deviceId);
    this.deps.router
      .request(deviceId, 'config.apply', { version, config }, this.deps.applyTimeoutMs ?? DEFAULT_APPLY_TIMEOUT_MS)
      .then((result) => {
        const report = ConfigReport.safeParse(result);
        if (!report.success) throw new TetherError('MESSAGE_MALFORMED', 'config.apply answered with something that is not a report');
        if (this.closed) return;
        this.deps.repo.setReported(deviceId, report.data, this.now());
        const level = report.data.status === 'applied' ? 'info' : 'warn';
        this.deps.log[level]({ deviceId, ...report.data }, 'config reported');
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

function statusOf(device: Device, state: DeviceStateRow | undefined): ConfigDeviceStatus {
  const desiredVersion = state?.desired_version ?? 0;
  const reported = state?.reported_status && state.reported_version !== null && state.reported_at !== null
    ? { version: state.reported_version, status: state.reported_status, error: state.reported_error, at: state.reported_at }
    : null;
  const current = reported !== null && reported.version === desiredVersion;
  const stateName = current ? reported.status : 'pending';
  return { deviceId: device.id, name: device.name, online: device.online, desiredVersion, reported, state: stateName, drift: stateName !== 'applied' };
}
