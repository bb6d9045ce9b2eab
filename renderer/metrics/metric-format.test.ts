import { describe, expect, it } from 'vitest';
import { formatBytes, formatMetric, metricInfo } from './metric-format.js';

describe('metric formatting', () => {
  it('scales network rates by SI prefix', () => {
    expect(formatMetric('net.rx_bps', 16_000_000)).toBe('16 MB/s');
    expect(formatMetric('net.tx_bps', 1_534)).toBe('1.5 kB/s');
    expect(formatMetric('net.tx_bps', 0)).toBe('0 B/s');
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(123_456_789_012)).toBe('123 GB');
  });

  it('rounds percentages and temperatures, with their units', () => {
    expect(formatMetric('cpu.total', 93.456789)).toBe('93.5 %');
    expect(formatMetric('cpu.total', 40)).toBe('40 %');
    expect(formatMetric('cpu.total', 3.14159)).toBe('3.1 %');
    expect(formatMetric('temp.cpu', 56.4321)).toBe('56.4 °C');
    expect(formatMetric('load.1', 0.4567)).toBe('0.46');
    expect(formatMetric('uptime', 90_061)).toBe('1 d 1 h');
  });

  it('gives human labels, deriving per-core and per-mount ones', () => {
    expect(metricInfo('mem.used_pct').label).toBe('Memory used');
    expect(metricInfo('cpu.core.3').label).toBe('CPU core 3');
    expect(metricInfo('disk.root.used_pct')).toEqual({ label: 'Disk used /', unit: 'percent' });
    expect(metricInfo('custom.thing').label).toBe('custom.thing');
  });
});
