import { loadavg } from 'node:os';
import type { MetricSample } from '../../protocol/telemetry.js';
import { LibrarySource } from './library-source.js';
import { LinuxSource } from './linux-source.js';
import { ResolutionFilter } from './resolution.js';

/** What the sampler reads, shaped as systeminformation's answers (tests may pass a fake). */
export interface SystemSource {
  currentLoad(): Promise<{ currentLoad: number; cpus: Array<{ load: number }> }>;
  mem(): Promise<{ total: number; available: number; swaptotal: number; swapused: number }>;
  fsSize(): Promise<Array<{ mount: string; size: number; used: number; use: number }>>;
  networkStats(iface: string): Promise<Array<{ iface: string; rx_bytes: number; tx_bytes: number }>>;
  battery(): Promise<{ hasBattery: boolean; percent: number; isCharging: boolean }>;
  cpuTemperature(): Promise<{ main: number | null }>;
  processes(): Promise<{ all: number }>;
  time(): { uptime: number | string };
}

export interface SamplerOptions {
  intervalMs?: number;
  /** Disk use (a `df` per call) runs every `diskEvery` ticks. */
  diskEvery?: number;
  /** Temperature and process count (costly: sensors and a full /proc walk) run every `slowEvery` ticks. */
  slowEvery?: number;
  source?: SystemSource;
  now?: () => number;
}

export const DEFAULT_SAMPLE_INTERVAL_MS = 5_000;
export const MIN_SAMPLE_INTERVAL_MS = 250;

/** `/` → `root`, `/boot/efi` → `boot_efi`: mount points as metric-name segments. */
export function mountSegment(mount: string): string {
  const cleaned = mount.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  if (cleaned === '') return 'root';
  return /^[a-z]/.test(cleaned) ? cleaned : `m_${cleaned}`;
}

/**
 * Samples this machine (/proc and /sys on Linux, systeminformation elsewhere). Cheap collectors run every tick; disk and
 * the costly ones less often. A sensor or battery that is absent yields no sample at all,
 * never a 0 that would read as "empty battery" or "0 °C".
 */
export class MetricSampler {
  private intervalMs: number;
  private timer: NodeJS.Timeout | null = null;
  private tick = 0;
  private busy = false;
  private owed = false;
  private lastNet: { ts: number; rx: number; tx: number } | null = null;
  /** Samples of the slow collectors, finished since the last tick; they ride with the next batch. */
  private late: MetricSample[] = [];
  private readonly running = new Set<'disk' | 'slow'>();
  private readonly source: SystemSource;
  private readonly now: () => number;
  private readonly resolution = new ResolutionFilter();

  constructor(private readonly onSamples: (samples: MetricSample[]) => void, private readonly options: SamplerOptions = {}) {
    this.intervalMs = options.intervalMs ?? DEFAULT_SAMPLE_INTERVAL_MS;
    this.source = options.source ?? (process.platform === 'linux' ? new LinuxSource() : new LibrarySource());
    this.now = options.now ?? Date.now;
  }

  get interval(): number {
    return this.intervalMs;
  }

  /** Changes the sampling period (remote agent settings); takes effect at once. */
  setIntervalMs(ms: number): void {
    this.intervalMs = Math.max(MIN_SAMPLE_INTERVAL_MS, Math.round(ms));
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = setInterval(() => void this.run(), this.intervalMs);
    }
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.run(), this.intervalMs);
    void this.run();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async run(): Promise<void> {
    // A tick that finds the previous collection still running (a starved CPU) is owed and run
    // right after it, so a slow moment delays samples instead of losing them; ticks never pile up beyond one.
    if (this.busy) {
      this.owed = true;
      return;
    }
    this.busy = true;
    try {
      do {
        this.owed = false;
        try {
          this.onSamples(await this.collect());
        } catch {
          // A failing collector must not stop sampling; the next tick tries again.
        }
      } while (this.owed && this.timer !== null);
    } finally {
      this.busy = false;
    }
  }

  /**
   * One sample of every cheap collector, all stamped with the same time, plus whatever the
   * slow collectors finished since the last tick, each rounded to its metric's resolution
   * (resolution.ts). Slow collectors run in the background so a
   * `df` or a process walk on a busy machine never delays (or skips) the base-rate tick.
   */
  async collect(): Promise<MetricSample[]> {
    const tick = this.tick++;
    if (tick % (this.options.diskEvery ?? 6) === 0) this.background('disk', () => this.collectDisks());
    if (tick % (this.options.slowEvery ?? 12) === 0) this.background('slow', () => this.collectSlow());
    const ts = this.now();
    const out: MetricSample[] = [];
    const add = (name: string, value: number | null | undefined): void => {
      if (typeof value === 'number' && Number.isFinite(value)) out.push({ ts, name, value });
    };
    const settle = <T>(p: Promise<T>): Promise<T | null> => p.catch(() => null);
    const [load, mem, net, battery] = await Promise.all([
      settle(this.source.currentLoad()),
      settle(this.source.mem()),
      settle(this.source.networkStats('*')),
      settle(this.source.battery()),
    ]);
    if (load) {
      add('cpu.total', load.currentLoad);
      load.cpus.forEach((cpu, i) => add(`cpu.core.${i}`, cpu.load));
    }
    const [l1, l5, l15] = loadavg();
    add('load.1', l1);
    add('load.5', l5);
    add('load.15', l15);
    if (mem) {
      add('mem.total', mem.total);
      add('mem.used', mem.total - mem.available);
      add('mem.used_pct', mem.total > 0 ? ((mem.total - mem.available) / mem.total) * 100 : null);
      add('swap.total', mem.swaptotal);
      add('swap.used', mem.swapused);
      if (mem.swaptotal > 0) add('swap.used_pct', (mem.swapused / mem.swaptotal) * 100);
    }
    if (net) {
      let rx = 0;
      let tx = 0;
      for (const n of net) {
        if (n.iface === 'lo') continue;
        rx += n.rx_bytes;
        tx += n.tx_bytes;
      }
      const prev = this.lastNet;
      this.lastNet = { ts, rx, tx };
      // Counters reset when an interface goes away; a negative rate is no rate.
      if (prev && ts > prev.ts && rx >= prev.rx && tx >= prev.tx) {
        add('net.rx_bps', ((rx - prev.rx) * 1000) / (ts - prev.ts));
        add('net.tx_bps', ((tx - prev.tx) * 1000) / (ts - prev.ts));
      }
    }
    if (battery?.hasBattery) {
      add('battery.level', battery.percent);
      add('battery.charging', battery.isCharging ? 1 : 0);
    }
    add('uptime', Number(this.source.time().uptime));
    out.push(...this.late.splice(0));
    // Every sample leaves through here, the slow collectors' too: the one place values are rounded.
    return this.resolution.apply(out);
  }

  /** Runs a slow collector unless its previous run is still going. */
  private background(kind: 'disk' | 'slow', run: () => Promise<MetricSample[]>): void {
    if (this.running.has(kind)) return;
    this.running.add(kind);
    run()
      .then((samples) => this.late.push(...samples), () => undefined)
      .finally(() => this.running.delete(kind));
  }

  /** Waits for the slow collectors in flight (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.running.size > 0) await new Promise((r) => setTimeout(r, 10));
  }

  private async collectDisks(): Promise<MetricSample[]> {
    const disks = await this.source.fsSize();
    const ts = this.now();
    const out: MetricSample[] = [];
    const add = (name: string, value: number | null | undefined): void => {
      if (typeof value === 'number' && Number.isFinite(value)) out.push({ ts, name, value });
    };
    {
      let worst: number | null = null;
      const seen = new Set<string>();
      for (const d of disks) {
        const seg = mountSegment(d.mount);
        if (seen.has(seg) || !(d.size > 0)) continue;
        seen.add(seg);
        add(`disk.${seg}.used_pct`, d.use);
        add(`disk.${seg}.used`, d.used);
        add(`disk.${seg}.size`, d.size);
        worst = Math.max(worst ?? 0, d.use);
      }
      add('disk.used_pct', worst);
    }
    return out;
  }

  private async collectSlow(): Promise<MetricSample[]> {
    const [temp, procs] = await Promise.all([this.source.cpuTemperature().catch(() => null), this.source.processes().catch(() => null)]);
    const ts = this.now();
    const out: MetricSample[] = [];
    // No sensor: no sample (main is null), never a 0 °C reading.
    if (temp && typeof temp.main === 'number' && Number.isFinite(temp.main)) out.push({ ts, name: 'temp.cpu', value: temp.main });
    if (procs) out.push({ ts, name: 'proc.count', value: procs.all });
    return out;
  }
}
