import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resolutionOf, roundTo } from './resolution.js';
import { MetricSampler, mountSegment, type SystemSource } from './sampler.js';

function fake(overrides: Partial<SystemSource> = {}): SystemSource {
  return {
    currentLoad: async () => ({ currentLoad: 12.5, cpus: [{ load: 10 }, { load: 15 }] }),
    mem: async () => ({ total: 1000, available: 250, swaptotal: 0, swapused: 0 }),
    fsSize: async () => [{ mount: '/', size: 100, used: 40, use: 40 }, { mount: '/boot/efi', size: 10, used: 9, use: 90 }],
    networkStats: async () => [{ iface: 'lo', rx_bytes: 1e9, tx_bytes: 1e9 }, { iface: 'eth0', rx_bytes: 1000, tx_bytes: 2000 }],
    battery: async () => ({ hasBattery: false, percent: 0, isCharging: false }),
    cpuTemperature: async () => ({ main: null }),
    processes: async () => ({ all: 42 }),
    time: () => ({ uptime: 100 }),
    ...overrides,
  };
}

function byName(samples: Array<{ name: string; value: number }>): Record<string, number> {
  return Object.fromEntries(samples.map((s) => [s.name, s.value]));
}

describe('MetricSampler', () => {
  it('reports an absent battery and temperature sensor as absent, not as 0', async () => {
    const sampler = new MetricSampler(() => undefined, { source: fake() });
    await sampler.collect();
    await sampler.settled();
    const names = Object.keys(byName(await sampler.collect()));
    expect(names).not.toContain('battery.level');
    expect(names).not.toContain('battery.charging');
    expect(names).not.toContain('temp.cpu');
    expect(names).toContain('proc.count');
  });

  it('reports a present battery, per-core CPU, memory use, disks per mount and network rates from counter deltas', async () => {
    let now = 10_000;
    let rx = 1000;
    const sampler = new MetricSampler(() => undefined, {
      now: () => now,
      source: fake({
        battery: async () => ({ hasBattery: true, percent: 0, isCharging: true }),
        cpuTemperature: async () => ({ main: 48 }),
        networkStats: async () => [{ iface: 'eth0', rx_bytes: rx, tx_bytes: 0 }],
      }),
    });
    const first = await sampler.collect();
    await sampler.settled();
    now += 2_000;
    rx += 4_000;
    // Slow collectors' samples ride with whichever tick follows their completion.
    const values = { ...byName(first), ...byName(await sampler.collect()) };
    expect(values).toMatchObject({
      'battery.level': 0, 'battery.charging': 1, 'cpu.total': 12.5, 'cpu.core.0': 10, 'cpu.core.1': 15,
      'mem.total': 1000, 'mem.used': 750, 'mem.used_pct': 75, 'net.rx_bps': 2000, 'net.tx_bps': 0,
      'disk.root.used_pct': 40, 'disk.boot_efi.used_pct': 90, 'disk.used_pct': 90, 'temp.cpu': 48, uptime: 100,
    });
    expect(values).not.toHaveProperty('swap.used_pct');
  });

  it('runs costly collectors less often than the base rate and never lets them hold up a tick', async () => {
    let processCalls = 0;
    let release: () => void = () => undefined;
    const sampler = new MetricSampler(() => undefined, {
      slowEvery: 3,
      source: fake({
        processes: () => {
          processCalls++;
          return new Promise((resolve) => (release = () => resolve({ all: 1 })));
        },
      }),
    });
    for (let i = 0; i < 6; i++) expect(byName(await sampler.collect())).toHaveProperty('uptime');
    expect(processCalls).toBe(1);
    release();
    await sampler.settled();
    expect(byName(await sampler.collect())).toHaveProperty('proc.count', 1);
  });

  it('on this machine: memory total matches /proc/meminfo and uptime grows', async () => {
    const sampler = new MetricSampler(() => undefined);
    const first = byName(await sampler.collect());
    await new Promise((r) => setTimeout(r, 1_100));
    const second = byName(await sampler.collect());
    const memKb = Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1]);
    expect(first['mem.total']).toBe(memKb * 1024);
    expect(second.uptime).toBeGreaterThan(first.uptime ?? Infinity);
    expect(second['cpu.total']).toBeGreaterThanOrEqual(0);
    expect(second['cpu.total']).toBeLessThanOrEqual(100);
    await sampler.settled();
    // Every metric this machine reports has a resolution rule.
    for (const name of Object.keys({ ...first, ...second, ...byName(await sampler.collect()) })) expect([name, resolutionOf(name)]).not.toEqual([name, null]);
  });

  it('reports every value at its metric resolution, the slow collectors included', async () => {
    let now = 10_000;
    let rx = 1_000;
    const sampler = new MetricSampler(() => undefined, {
      now: () => now,
      source: fake({
        currentLoad: async () => ({ currentLoad: 12.3456, cpus: [{ load: 10.04 }, { load: 99.96 }] }),
        mem: async () => ({ total: 3_000.4, available: 1_000, swaptotal: 7, swapused: 1 }),
        fsSize: async () => [{ mount: '/', size: 100.5, used: 40.4, use: 40.56 }],
        networkStats: async () => [{ iface: 'eth0', rx_bytes: rx, tx_bytes: 0 }],
        battery: async () => ({ hasBattery: true, percent: 55.55, isCharging: false }),
        cpuTemperature: async () => ({ main: 48.25 }),
        time: () => ({ uptime: 100.6 }),
      }),
    });
    const first = await sampler.collect();
    await sampler.settled();
    now += 3_000;
    rx += 4_001;
    const samples = [...first, ...(await sampler.collect())];
    expect(byName(samples)).toMatchObject({
      'cpu.total': 12.3, 'cpu.core.0': 10, 'cpu.core.1': 100, 'mem.total': 3_000, 'mem.used': 2_000, 'mem.used_pct': 66.7,
      'swap.used_pct': 14.3, 'net.rx_bps': 1_334, 'battery.level': 55.6, 'temp.cpu': 48.3, uptime: 101,
      'disk.root.used_pct': 40.6, 'disk.root.used': 40, 'disk.root.size': 101,
    });
    for (const s of samples) {
      const decimals = resolutionOf(s.name);
      expect([s.name, decimals === null ? 'no rule' : roundTo(s.value, decimals)]).toEqual([s.name, s.value]);
    }
  });

  it('names mounts as metric segments', () => {
    expect(mountSegment('/')).toBe('root');
    expect(mountSegment('/boot/efi')).toBe('boot_efi');
    expect(mountSegment('/9data')).toBe('m_9data');
  });

  it('setIntervalMs changes the period live and keeps a floor', () => {
    const sampler = new MetricSampler(() => undefined, { source: fake() });
    sampler.setIntervalMs(1_000);
    expect(sampler.interval).toBe(1_000);
    sampler.setIntervalMs(1);
    expect(sampler.interval).toBe(250);
  });
});
