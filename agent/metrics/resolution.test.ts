import { describe, expect, it } from 'vitest';
import { ResolutionFilter, resolutionOf, roundTo } from './resolution.js';

describe('metric resolution', () => {
  it('gives percentages and temperatures one decimal, load averages two, bytes, rates and counts none', () => {
    const cases: Array<[string, number]> = [
      ['cpu.total', 1], ['cpu.core.0', 1], ['cpu.core.31', 1], ['mem.used_pct', 1], ['swap.used_pct', 1],
      ['disk.used_pct', 1], ['disk.root.used_pct', 1], ['disk.boot_efi.used_pct', 1], ['battery.level', 1], ['temp.cpu', 1],
      ['load.1', 2], ['load.5', 2], ['load.15', 2],
      ['mem.total', 0], ['mem.used', 0], ['swap.total', 0], ['swap.used', 0], ['disk.root.used', 0], ['disk.m_9data.size', 0],
      ['net.rx_bps', 0], ['net.tx_bps', 0], ['proc.count', 0], ['battery.charging', 0], ['uptime', 0], ['agent.spool.dropped', 0],
    ];
    for (const [name, decimals] of cases) expect([name, resolutionOf(name)]).toEqual([name, decimals]);
    expect(resolutionOf('app.custom')).toBeNull();
    expect(resolutionOf('cpu.core.x')).toBeNull();
  });

  it('rounds to the nearest step, as the exact short decimal, and never to -0', () => {
    expect(roundTo(12.3456789, 1)).toBe(12.3);
    expect(roundTo(66.66666666666667, 1)).toBe(66.7);
    expect(roundTo(48.25, 1)).toBe(48.3);
    expect(roundTo(-5.06, 1)).toBe(-5.1);
    expect(roundTo(0.456, 2)).toBe(0.46);
    expect(roundTo(8_123_456_789.6, 0)).toBe(8_123_456_790);
    expect(roundTo(1333.6666666666667, 0)).toBe(1334);
    expect(Object.is(roundTo(-0.04, 1), 0)).toBe(true);
    expect(Object.is(roundTo(-0.4, 0), 0)).toBe(true);
    // What the backend's chunk codec checks before it stores a value as a scaled integer.
    for (let i = 0; i < 10_000; i++) {
      const v = roundTo((Math.random() - 0.5) * 200, 1);
      expect(Math.round(v * 10) / 10).toBe(v);
    }
  });

  it('rounds each sample by its rule and leaves names without one as measured', () => {
    const filter = new ResolutionFilter();
    const samples = [
      { ts: 1, name: 'cpu.total', value: 12.3456 },
      { ts: 1, name: 'net.rx_bps', value: 1333.67 },
      { ts: 1, name: 'load.1', value: 0.456 },
      { ts: 1, name: 'app.custom', value: 0.123456 },
    ];
    expect(filter.apply(samples).map((s) => s.value)).toEqual([12.3, 1334, 0.46, 0.123456]);
    // Cached rules give the same answers.
    expect(filter.apply([{ ts: 2, name: 'cpu.total', value: 99.99 }])[0]?.value).toBe(100);
  });
});
