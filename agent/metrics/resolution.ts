import type { MetricSample } from '../../protocol/telemetry.js';

/**
 * The resolution each metric is reported at: the number of decimals worth keeping.
 *
 * Digits below what a metric means are noise (a CPU percentage of 12.3456789 is 12.3 %), and
 * noise is not free: the backend stores a value that is a short decimal as a scaled integer
 * in a couple of bytes, but needs eight for a float with a long tail. docs/metrics.md gives the
 * same table for operators; keep the two in step.
 *
 * | metric                                 | unit       | decimals |
 * |----------------------------------------|------------|----------|
 * | cpu.total, cpu.core.N                  | %          | 1        |
 * | mem.used_pct, swap.used_pct            | %          | 1        |
 * | disk.used_pct, disk.MOUNT.used_pct     | %          | 1        |
 * | battery.level                          | %          | 1        |
 * | temp.cpu                               | °C         | 1        |
 * | load.1, load.5, load.15                | runnable   | 2        |
 * | mem.total, mem.used, swap.total, swap.used, disk.MOUNT.used, disk.MOUNT.size | bytes | 0 |
 * | net.rx_bps, net.tx_bps                 | bytes/s    | 0        |
 * | proc.count, battery.charging (0/1)     | count      | 0        |
 * | agent.spool.dropped                    | batches    | 0        |
 * | uptime                                 | s          | 0        |
 *
 * Load averages keep two decimals because that is what the kernel publishes
 * (/proc/loadavg), and a load of 0.05 on an idle device is meaningful where 0.1 is not.
 */
export const METRIC_RESOLUTION: ReadonlyArray<{ readonly match: RegExp; readonly decimals: number; readonly unit: string }> = [
  { match: /^cpu\.(total|core\.\d+)$/, decimals: 1, unit: '%' },
  { match: /^(mem|swap)\.used_pct$/, decimals: 1, unit: '%' },
  { match: /^disk\.([a-z][a-z0-9_]*\.)?used_pct$/, decimals: 1, unit: '%' },
  { match: /^battery\.level$/, decimals: 1, unit: '%' },
  { match: /^temp\.cpu$/, decimals: 1, unit: '°C' },
  { match: /^load\.(1|5|15)$/, decimals: 2, unit: 'runnable tasks' },
  { match: /^(mem|swap)\.(total|used)$/, decimals: 0, unit: 'bytes' },
  { match: /^disk\.[a-z][a-z0-9_]*\.(used|size)$/, decimals: 0, unit: 'bytes' },
  { match: /^net\.(rx|tx)_bps$/, decimals: 0, unit: 'bytes/s' },
  { match: /^(proc\.count|battery\.charging)$/, decimals: 0, unit: 'count' },
  // Added by the telemetry client beside the sampler's output; a counter, whole by construction.
  { match: /^agent\.spool\.dropped$/, decimals: 0, unit: 'batches' },
  { match: /^uptime$/, decimals: 0, unit: 's' },
];

const POW10 = [1, 10, 100, 1_000];

/** Decimals of a metric name, or null for a name no rule covers (reported as measured). */
export function resolutionOf(name: string): number | null {
  for (const rule of METRIC_RESOLUTION) if (rule.match.test(name)) return rule.decimals;
  return null;
}

/**
 * Rounds a value to `decimals` places as m / 10^decimals, the exact float that the backend's
 * decimal detection recognises; -0 becomes 0 (a rounded -0.04 °C is 0 °C, and -0 would not
 * store as a decimal).
 */
export function roundTo(value: number, decimals: number): number {
  const p = POW10[decimals] ?? 10 ** decimals;
  return Math.round(value * p) / p + 0;
}

/** Applies {@link METRIC_RESOLUTION} to every sample, in place; names are looked up once each. */
export class ResolutionFilter {
  private readonly cache = new Map<string, number | null>();

  apply(samples: MetricSample[]): MetricSample[] {
    for (const s of samples) {
      let decimals = this.cache.get(s.name);
      if (decimals === undefined) {
        decimals = resolutionOf(s.name);
        // Names are a device's fixed set (cores, mounts); the bound only guards against a churn of mounts.
        if (this.cache.size >= 1_024) this.cache.clear();
        this.cache.set(s.name, decimals);
      }
      if (decimals !== null) s.value = roundTo(s.value, decimals);
    }
    return samples;
  }
}
