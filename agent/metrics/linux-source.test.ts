import { describe, expect, it } from 'vitest';
import { LinuxSource, parseMounts, parseNetDev, parseProcStat } from './linux-source.js';

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
  });
});
