/**
 * How metric values read in the console: human labels for the agent's metric names and values
 * rounded to a sensible precision with their unit. Intl formats the digits; it has no scaling of
 * bytes by SI prefix, which is the few lines of `formatBytes`.
 */
export type MetricUnit = 'percent' | 'celsius' | 'bytes' | 'bytes-per-second' | 'seconds' | 'count' | 'load';

interface MetricInfo {
  label: string;
  unit: MetricUnit;
}

const KNOWN: Record<string, MetricInfo> = {
  'cpu.total': { label: 'CPU', unit: 'percent' },
  'mem.used_pct': { label: 'Memory used', unit: 'percent' },
  'mem.used': { label: 'Memory used', unit: 'bytes' },
  'mem.total': { label: 'Memory', unit: 'bytes' },
  'swap.used_pct': { label: 'Swap used', unit: 'percent' },
  'swap.used': { label: 'Swap used', unit: 'bytes' },
  'swap.total': { label: 'Swap', unit: 'bytes' },
  'load.1': { label: 'Load (1 min)', unit: 'load' },
  'load.5': { label: 'Load (5 min)', unit: 'load' },
  'load.15': { label: 'Load (15 min)', unit: 'load' },
  'net.rx_bps': { label: 'Received', unit: 'bytes-per-second' },
  'net.tx_bps': { label: 'Sent', unit: 'bytes-per-second' },
  'disk.used_pct': { label: 'Disk used (fullest mount)', unit: 'percent' },
  'temp.cpu': { label: 'CPU temperature', unit: 'celsius' },
  'battery.level': { label: 'Battery', unit: 'percent' },
  'battery.charging': { label: 'Charging', unit: 'count' },
  uptime: { label: 'Uptime', unit: 'seconds' },
  'proc.count': { label: 'Processes', unit: 'count' },
  'agent.spool.dropped': { label: 'Samples dropped', unit: 'count' },
};

/** The label and unit of a metric; per-core and per-mount names are derived from their pattern. */
export function metricInfo(name: string): MetricInfo {
  const known = KNOWN[name];
  if (known) return known;
  const core = /^cpu\.core\.(\d+)$/.exec(name);
  if (core) return { label: `CPU core ${core[1]}`, unit: 'percent' };
  const disk = /^disk\.(.+)\.(used_pct|used|size)$/.exec(name);
  if (disk?.[1]) {
    const mount = disk[1] === 'root' ? '/' : `/${disk[1].replaceAll('_', '/')}`;
    return disk[2] === 'used_pct' ? { label: `Disk used ${mount}`, unit: 'percent' } : { label: `Disk ${disk[2] === 'size' ? 'size' : 'used'} ${mount}`, unit: 'bytes' };
  }
  return { label: name, unit: 'count' };
}

const PREFIXES = ['', 'k', 'M', 'G', 'T', 'P'];

/** 16000000 → "16 MB" (decimal prefixes, as network rates and disk sizes are quoted). */
export function formatBytes(bytes: number): string {
  let value = Math.abs(bytes);
  let i = 0;
  while (value >= 1000 && i < PREFIXES.length - 1) {
    value /= 1000;
    i++;
  }
  const digits = value >= 100 || i === 0 ? 0 : 1;
  return `${Math.sign(bytes) < 0 ? '-' : ''}${value.toLocaleString('en', { maximumFractionDigits: digits })} ${PREFIXES[i]}B`;
}

function formatDuration(seconds: number): string {
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${m} min`;
  return `${m} min`;
}

/** A value in a unit, rounded for reading: "42 %", "56.5 °C", "16 MB/s", "0.42". */
export function formatValue(value: number, unit: MetricUnit): string {
  switch (unit) {
    case 'percent':
      return `${value.toLocaleString('en', { maximumFractionDigits: 1 })} %`;
    case 'celsius':
      return `${value.toLocaleString('en', { maximumFractionDigits: 1 })} °C`;
    case 'bytes':
      return formatBytes(value);
    case 'bytes-per-second':
      return `${formatBytes(value)}/s`;
    case 'seconds':
      return formatDuration(value);
    case 'load':
      return value.toLocaleString('en', { maximumFractionDigits: 2 });
    case 'count':
      return value.toLocaleString('en', { maximumFractionDigits: 2 });
  }
}

/** A metric's value as people read it. */
export function formatMetric(name: string, value: number): string {
  return formatValue(value, metricInfo(name).unit);
}
