import { readFile, statfs } from 'node:fs/promises';
import { uptime } from 'node:os';
import si from 'systeminformation';
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

function percent(busy: number, total: number): number {
  return total > 0 ? (busy / total) * 100 : 0;
}

/**
 * systeminformation on Linux, with the collectors that run every few seconds reading /proc
 * directly. Its currentLoad() runs `cat /proc/stat | grep cpu` through execSync on every call,
 * networkStats('*') execs `ip` and friends again whenever its cache expires, and fsSize() execs
 * `cat /proc/mounts` synchronously and then `df`: each fork of the agent costs milliseconds of
 * CPU and a synchronous one blocks the event loop (shell echo, acks) for as long as the fork
 * takes on a busy machine. Reading the same files costs microseconds. The rarely run collectors
 * (temperature, processes) and the file-based ones (mem, battery) stay with systeminformation.
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

  mem(): ReturnType<SystemSource['mem']> {
    return si.mem();
  }

  battery(): ReturnType<SystemSource['battery']> {
    return si.battery();
  }

  cpuTemperature(): ReturnType<SystemSource['cpuTemperature']> {
    return si.cpuTemperature();
  }

  processes(): ReturnType<SystemSource['processes']> {
    return si.processes();
  }

  /** systeminformation's time() also spawns for the time zone; os.uptime() reads /proc/uptime. */
  time(): ReturnType<SystemSource['time']> {
    return { uptime: uptime() };
  }
}
