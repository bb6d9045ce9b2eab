import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { countProcesses, LinuxSource, parseMeminfo, parseMounts, parseNetDev, parseProcStat, pickBattery, pickCpuTemperature } from './linux-source.js';

const MEMINFO = `MemTotal:       16303428 kB
MemFree:         1234568 kB
MemAvailable:    9876544 kB
Buffers:          345672 kB
Cached:          6543212 kB
SwapCached:            0 kB
SwapTotal:       2097148 kB
SwapFree:        1048574 kB
Slab:             456788 kB
SReclaimable:     300000 kB
HugePages_Total:       0
Hugepagesize:       2048 kB
`;

describe('LinuxSource parsers', () => {
  it('reads busy and total jiffies per cpu line, iowait as idle', () => {
    const stat = 'cpu  10 0 10 70 10 0 0 0 0 0\ncpu0 5 0 5 35 5 0 0 0 0 0\nintr 1 2 3\n';
    expect(parseProcStat(stat)).toEqual([{ busy: 20, total: 100 }, { busy: 10, total: 50 }]);
  });

  it('reads bytes received and sent per interface', () => {
    const dev = 'Inter-|   Receive\n face |bytes    packets\n    lo: 100 1 0 0 0 0 0 0 200 2 0 0 0 0 0 0\n  eth0: 5 1 0 0 0 0 0 0 7 1 0 0 0 0 0 0\n';
    expect(parseNetDev(dev)).toEqual([{ iface: 'lo', rx_bytes: 100, tx_bytes: 200 }, { iface: 'eth0', rx_bytes: 5, tx_bytes: 7 }]);
  });

  it('keeps block-device mounts once and drops virtual filesystems', () => {
    const mounts = 'proc /proc proc rw 0 0\n/dev/vda / ext4 rw 0 0\ntmpfs /tmp tmpfs rw 0 0\n/dev/vdb /mnt/my\\040disk ext4 rw 0 0\n/dev/vda / ext4 rw 0 0\n';
    expect(parseMounts(mounts)).toEqual(['/', '/mnt/my disk']);
  });

  it('reads memory and swap in bytes from /proc/meminfo', () => {
    expect(parseMeminfo(MEMINFO)).toEqual({ total: 16303428 * 1024, available: 9876544 * 1024, swaptotal: 2097148 * 1024, swapused: (2097148 - 1048574) * 1024 });
  });

  it('estimates available memory as free + buffers + cache + slab on kernels without MemAvailable', () => {
    const old = MEMINFO.replace(/^MemAvailable:.*\n/m, '');
    expect(parseMeminfo(old).available).toBe((1234568 + 345672 + 6543212 + 456788) * 1024);
  });

  it('reports the system battery, skipping mains and peripherals, and no battery where there is none', () => {
    const ac = { type: 'Mains\n', scope: null, capacity: null, status: null };
    const mouse = { type: 'Battery\n', scope: 'Device\n', capacity: '12\n', status: 'Discharging\n' };
    const bat = { type: 'Battery\n', scope: null, capacity: '87\n', status: 'Charging\n' };
    expect(pickBattery([ac, mouse, bat])).toEqual({ hasBattery: true, percent: 87, isCharging: true });
    expect(pickBattery([{ ...bat, status: 'Not charging\n' }]).isCharging).toBe(false);
    expect(pickBattery([ac, mouse]).hasBattery).toBe(false);
    expect(pickBattery([]).hasBattery).toBe(false);
  });

  it('picks the CPU temperature as systeminformation does, and none without a sensor', () => {
    const nvme = { chip: 'nvme', label: 'Composite', milli: 38850 };
    // AMD: Tctl wins over the CCD sensors.
    expect(pickCpuTemperature([nvme, { chip: 'k10temp', label: 'Tctl', milli: 51250 }, { chip: 'k10temp', label: 'Tccd1', milli: 45000 }], [])).toBe(51.3);
    // Intel: the package sensor, else the mean of the cores.
    const cores = [{ chip: 'coretemp', label: 'Core 0', milli: 40000 }, { chip: 'coretemp', label: 'Core 1', milli: 45000 }];
    expect(pickCpuTemperature([{ chip: 'coretemp', label: 'Package id 0', milli: 47000 }, ...cores], [])).toBe(47);
    expect(pickCpuTemperature(cores, [])).toBe(43);
    // Raspberry Pi: a CPU thermal zone, or its unlabelled hwmon chip.
    expect(pickCpuTemperature([nvme], [{ type: 'acpitz', milli: 27800 }, { type: 'cpu-thermal', milli: 48312 }])).toBe(48.3);
    expect(pickCpuTemperature([{ chip: 'cpu_thermal', label: null, milli: 48312 }], [])).toBe(48.3);
    expect(pickCpuTemperature([], [{ type: 'acpitz', milli: 27800 }])).toBe(27.8);
    expect(pickCpuTemperature([nvme], [])).toBeNull();
    expect(pickCpuTemperature([], [])).toBeNull();
  });

  it('counts the numeric /proc entries as processes', () => {
    expect(countProcesses(['1', '42', 'self', 'thread-self', 'meminfo', '1337'])).toBe(3);
  });
});

describe.runIf(process.platform === 'linux')('LinuxSource on this machine', () => {
  it('reports cpu load per core as a percentage, interfaces with counters and the root disk', async () => {
    const source = new LinuxSource();
    await source.currentLoad();
    const load = await source.currentLoad();
    expect(load.currentLoad).toBeGreaterThanOrEqual(0);
    expect(load.currentLoad).toBeLessThanOrEqual(100);
    expect(load.cpus.length).toBeGreaterThan(0);
    expect((await source.networkStats()).some((n) => n.iface === 'lo' && n.rx_bytes >= 0)).toBe(true);
    const disks = await source.fsSize();
    for (const d of disks) expect(d.use).toBeGreaterThanOrEqual(0);
    expect(source.time().uptime).toBeGreaterThan(0);
    const memKb = Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1]);
    expect((await source.mem()).total).toBe(memKb * 1024);
    expect((await source.processes()).all).toBeGreaterThan(1);
    const temp = (await source.cpuTemperature()).main;
    if (temp !== null) expect(temp).toBeGreaterThan(-50);
    expect(typeof (await source.battery()).hasBattery).toBe('boolean');
  });
});
