import { readdir, readFile, statfs } from 'node:fs/promises';
import { uptime } from 'node:os';
import { join } from 'node:path';
import type { SystemSource } from './sampler.js';

interface CpuTimes {
  busy: number;
  total: number;
}

/** `/proc/stat` cpu lines → busy and total jiffies (iowait counts as idle, as in top). */
export function parseProcStat(text: string): CpuTimes[] {
  const out: CpuTimes[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('cpu')) continue;
    const [, user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).map(Number);
    const busy = user + nice + system + irq + softirq + steal;
    out.push({ busy, total: busy + idle + iowait });
  }
  return out;
}

/** `/proc/net/dev` → received and sent bytes per interface. */
export function parseNetDev(text: string): Array<{ iface: string; rx_bytes: number; tx_bytes: number }> {
  return text
    .split('\n')
    .slice(2)
    .flatMap((line) => {
      const colon = line.indexOf(':');
      if (colon < 0) return [];
      const fields = line.slice(colon + 1).trim().split(/\s+/).map(Number);
      return [{ iface: line.slice(0, colon).trim(), rx_bytes: fields[0] ?? 0, tx_bytes: fields[8] ?? 0 }];
    });
}

/** `/proc/mounts` → mount points of block devices (not proc, tmpfs, overlays or bind-mounted sockets), each once. */
export function parseMounts(text: string): string[] {
  const seen = new Set<string>();
  for (const line of text.split('\n')) {
    const [device = '', mount = ''] = line.split(' ');
    if (device.startsWith('/dev/') && mount.startsWith('/')) seen.add(mount.replace(/\\040/g, ' '));
  }
  return [...seen];
}

/** `/proc/meminfo` (kB) → bytes; without MemAvailable (kernels before 3.14), free + buffers + page cache + slab, as systeminformation estimates it. */
export function parseMeminfo(text: string): { total: number; available: number; swaptotal: number; swapused: number } {
  const kB = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s+(\d+)/.exec(line);
    if (m?.[1] && m[2]) kB.set(m[1], Number(m[2]) * 1024);
  }
  const get = (key: string): number => kB.get(key) ?? 0;
  const swaptotal = get('SwapTotal');
  return {
    total: get('MemTotal'),
    available: kB.get('MemAvailable') ?? get('MemFree') + get('Buffers') + get('Cached') + get('Slab'),
    swaptotal,
    swapused: swaptotal - get('SwapFree'),
  };
}

/** One `/sys/class/power_supply/<name>/` entry: its type, scope, capacity and status files (absent files as null). */
export interface PowerSupply {
  type: string | null;
  scope: string | null;
  capacity: string | null;
  status: string | null;
}

/**
 * The system battery among power supplies: type Battery, not a device's own (a wireless mouse has
 * scope Device), with a capacity. None → hasBattery false, so the sampler reports no level at all.
 */
export function pickBattery(supplies: PowerSupply[]): { hasBattery: boolean; percent: number; isCharging: boolean } {
  for (const s of supplies) {
    const percent = Number.parseInt(s.capacity ?? '', 10);
    if (s.type?.trim() !== 'Battery' || s.scope?.trim() === 'Device' || !Number.isFinite(percent)) continue;
    return { hasBattery: true, percent, isCharging: s.status?.trim() === 'Charging' };
  }
  return { hasBattery: false, percent: 0, isCharging: false };
}

/** One hwmon temperature input: its chip's name, its label (null when it has none) and its value in m°C. */
export interface HwmonTemp {
  chip: string;
  label: string | null;
  milli: number;
}

/** One `/sys/class/thermal/thermal_zone*`: its type and value in m°C. */
export interface ThermalZone {
  type: string;
  milli: number;
}

const celsius = (milli: number): number => Math.round(milli / 100) / 10;

/**
 * The CPU temperature systeminformation picks on Linux, from the same sysfs files: AMD's Tctl,
 * else an Intel package (or first CCD) sensor, else the mean of the per-core sensors, else a CPU
 * thermal zone or an unlabelled CPU hwmon chip (Raspberry Pi's cpu_thermal), else thermal zone 0.
 * No sensor → null, never 0 °C.
 */
export function pickCpuTemperature(hwmon: HwmonTemp[], zones: ThermalZone[]): number | null {
  const labelled = (test: (label: string) => boolean): HwmonTemp | undefined => hwmon.find((t) => t.label !== null && test(t.label.toLowerCase()));
  const main = labelled((l) => l === 'tctl') ?? labelled((l) => l.includes('package') || l.includes('physical') || l === 'tccd1');
  if (main) return celsius(main.milli);
  const cores = hwmon.filter((t) => t.label?.toLowerCase().startsWith('core'));
  if (cores.length > 0) return Math.round(cores.reduce((sum, t) => sum + celsius(t.milli), 0) / cores.length);
  const cpu = zones.find((z) => z.type.toLowerCase().includes('cpu')) ?? hwmon.find((t) => t.label === null && /^(cpu|soc)[-_]thermal/.test(t.chip));
  if (cpu) return celsius(cpu.milli);
  const zone0 = zones[0];
  return zone0 ? celsius(zone0.milli) : null;
}

/** `/proc` entries → how many are processes (the numeric ones). */
export function countProcesses(entries: string[]): number {
  return entries.filter((e) => /^\d+$/.test(e)).length;
}

/** A sysfs/procfs file's text, or null when it is absent or unreadable (a sensor that went away). */
async function readOptional(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}

/** A directory's entries, or none when it is absent (a container without /sys/class/hwmon). */
async function listOptional(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

async function readHwmon(): Promise<HwmonTemp[]> {
  const root = '/sys/class/hwmon';
  const chips = await Promise.all(
    (await listOptional(root)).map(async (chip) => {
      const dir = join(root, chip);
      const [name, files] = await Promise.all([readOptional(join(dir, 'name')), listOptional(dir)]);
      const inputs = files.filter((f) => /^temp\d+_input$/.test(f)).sort();
      return Promise.all(
        inputs.map(async (input) => {
          const [label, value] = await Promise.all([readOptional(join(dir, input.replace('_input', '_label'))), readOptional(join(dir, input))]);
          const milli = Number.parseInt(value ?? '', 10);
          return Number.isFinite(milli) ? [{ chip: name?.trim() ?? '', label: label?.trim() ?? null, milli }] : [];
        }),
      );
    }),
  );
  return chips.flat(2);
}

async function readThermalZones(): Promise<ThermalZone[]> {
  const root = '/sys/class/thermal';
  const zones = (await listOptional(root)).filter((z) => z.startsWith('thermal_zone')).sort((a, b) => Number(a.slice(12)) - Number(b.slice(12)));
  const read = await Promise.all(
    zones.map(async (zone) => {
      const [type, value] = await Promise.all([readOptional(join(root, zone, 'type')), readOptional(join(root, zone, 'temp'))]);
      const milli = Number.parseInt(value ?? '', 10);
      return Number.isFinite(milli) ? [{ type: type?.trim() ?? '', milli }] : [];
    }),
  );
  return read.flat();
}

function percent(busy: number, total: number): number {
  return total > 0 ? (busy / total) * 100 : 0;
}

/**
 * The sampler's source on Linux: /proc and /sys read directly, without systeminformation.
 * Its currentLoad() runs `cat /proc/stat | grep cpu` through execSync on every call,
 * networkStats('*') execs `ip` and friends again whenever its cache expires, fsSize() execs
 * `cat /proc/mounts` synchronously and then `df`, cpuTemperature() and processes() exec shells
 * and `ps`: each fork of the agent costs milliseconds of CPU and a synchronous one blocks the
 * event loop (shell echo, acks) for as long as the fork takes on a busy machine. Reading the same
 * files costs microseconds, and not loading the library at all keeps ~2 MB off the agent's
 * resident memory (issue #3).
 */
export class LinuxSource implements SystemSource {
  private lastCpu: CpuTimes[] | null = null;

  async currentLoad(): Promise<{ currentLoad: number; cpus: Array<{ load: number }> }> {
    const now = parseProcStat(await readFile('/proc/stat', 'utf8'));
    const prev = this.lastCpu;
    this.lastCpu = now;
    const loads = now.map((t, i) => {
      const p = prev?.[i];
      return p && t.total > p.total ? percent(t.busy - p.busy, t.total - p.total) : percent(t.busy, t.total);
    });
    const [total = 0, ...cpus] = loads;
    return { currentLoad: total, cpus: cpus.map((load) => ({ load })) };
  }

  async networkStats(): Promise<Array<{ iface: string; rx_bytes: number; tx_bytes: number }>> {
    return parseNetDev(await readFile('/proc/net/dev', 'utf8'));
  }

  async fsSize(): Promise<Array<{ mount: string; size: number; used: number; use: number }>> {
    const mounts = parseMounts(await readFile('/proc/mounts', 'utf8'));
    const sizes = await Promise.all(
      mounts.map(async (mount) => {
        try {
          const s = await statfs(mount);
          const size = s.blocks * s.bsize;
          const used = (s.blocks - s.bfree) * s.bsize;
          // As df: use% of what non-root users can have (used + available).
          const usable = used + s.bavail * s.bsize;
          return [{ mount, size, used, use: usable > 0 ? (used / usable) * 100 : 0 }];
        } catch {
          return [];
        }
      }),
    );
    return sizes.flat();
  }

  async mem(): ReturnType<SystemSource['mem']> {
    return parseMeminfo(await readFile('/proc/meminfo', 'utf8'));
  }

  async battery(): ReturnType<SystemSource['battery']> {
    const root = '/sys/class/power_supply';
    const supplies = await Promise.all(
      (await listOptional(root)).map(async (name) => {
        const [type, scope, capacity, status] = await Promise.all(['type', 'scope', 'capacity', 'status'].map((f) => readOptional(join(root, name, f))));
        return { type: type ?? null, scope: scope ?? null, capacity: capacity ?? null, status: status ?? null };
      }),
    );
    return pickBattery(supplies);
  }

  async cpuTemperature(): ReturnType<SystemSource['cpuTemperature']> {
    const [hwmon, zones] = await Promise.all([readHwmon(), readThermalZones()]);
    return { main: pickCpuTemperature(hwmon, zones) };
  }

  async processes(): ReturnType<SystemSource['processes']> {
    return { all: countProcesses(await readdir('/proc')) };
  }

  /** systeminformation's time() also spawns for the time zone; os.uptime() reads /proc/uptime. */
  time(): ReturnType<SystemSource['time']> {
    return { uptime: uptime() };
  }
}
