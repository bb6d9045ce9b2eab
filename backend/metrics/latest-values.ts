import type { MetricSample } from '../../protocol/index.js';
import type { MetricEngine } from './metric-engine.js';

/**
 * The newest value of every metric of every device, in memory: the fleet table and the alert
 * evaluator read it on every tick, so it must not cost a query. Fed by each committed flush.
 */
export class LatestValues {
  private readonly values = new Map<string, Map<string, { ts: number; value: number }>>();
  private readonly changed = new Set<string>();

  /** Seeds the cache with each series' newest sample since `since` (after a restart). */
  async load(store: Pick<MetricEngine, 'latestSince'>, since: number): Promise<void> {
    for (const r of await store.latestSince(since)) this.set(r.deviceId, r.name, r.ts, r.value);
    this.changed.clear();
  }

  update(deviceId: string, samples: readonly MetricSample[]): void {
    for (const s of samples) this.set(deviceId, s.name, s.ts, s.value);
  }

  private set(deviceId: string, name: string, ts: number, value: number): void {
    let device = this.values.get(deviceId);
    if (!device) this.values.set(deviceId, (device = new Map()));
    const current = device.get(name);
    if (current && current.ts > ts) return;
    device.set(name, { ts, value });
    this.changed.add(deviceId);
  }

  get(deviceId: string, name: string): { ts: number; value: number } | undefined {
    return this.values.get(deviceId)?.get(name);
  }

  names(deviceId: string): string[] {
    return [...(this.values.get(deviceId)?.keys() ?? [])].sort();
  }

  /** Latest values of `names` (all when absent) for the given devices (all when absent). */
  snapshot(names?: readonly string[], deviceIds?: Iterable<string>): Record<string, Record<string, { ts: number; value: number }>> {
    const out: Record<string, Record<string, { ts: number; value: number }>> = {};
    for (const id of deviceIds ?? this.values.keys()) {
      const device = this.values.get(id);
      if (!device) continue;
      const entry: Record<string, { ts: number; value: number }> = {};
      for (const name of names ?? device.keys()) {
        const v = device.get(name);
        if (v) entry[name] = v;
      }
      out[id] = entry;
    }
    return out;
  }

  /** Devices whose values changed since the last call. */
  takeChanged(): string[] {
    const ids = [...this.changed];
    this.changed.clear();
    return ids;
  }

  forget(deviceId: string): void {
    this.values.delete(deviceId);
  }
}
