import { describe, expect, it, vi } from 'vitest';
import { LocalDeviceRouter, type DeviceLink } from './device-router.js';

function fakeLink(): DeviceLink & { closed: string[]; events: Array<[string, unknown]> } {
  const closed: string[] = [];
  const events: Array<[string, unknown]> = [];
  return {
    closed,
    events,
    request: vi.fn(async (method: string, params: unknown) => ({ method, params })),
    emit: (name, data) => events.push([name, data]),
    close: (code) => closed.push(code),
  };
}

describe('LocalDeviceRouter', () => {
  it('routes requests to the attached link and refuses offline devices with DEVICE_OFFLINE', async () => {
    const router = new LocalDeviceRouter();
    const link = fakeLink();
    router.attach('dev_a', link);
    await expect(router.request('dev_a', 'system.echo', { payload: 'x' })).resolves.toEqual({ method: 'system.echo', params: { payload: 'x' } });
    await expect(router.request('dev_b', 'system.echo', {})).rejects.toMatchObject({ code: 'DEVICE_OFFLINE' });
  });

  it('supersedes an older link of the same device and ignores its late detach', () => {
    const router = new LocalDeviceRouter();
    const first = fakeLink();
    const second = fakeLink();
    router.attach('dev_a', first);
    router.attach('dev_a', second);
    expect(first.closed).toEqual(['DEVICE_SUPERSEDED']);
    expect(router.detach('dev_a', first)).toBe(false);
    expect(router.isConnected('dev_a')).toBe(true);
    expect(router.detach('dev_a', second)).toBe(true);
    expect(router.isConnected('dev_a')).toBe(false);
  });

  it('publishes to connected members of a group only and disconnects with a code', () => {
    const router = new LocalDeviceRouter();
    const a = fakeLink();
    router.attach('dev_a', a);
    expect(router.publish(['dev_a', 'dev_b'], 'config.changed', { v: 2 })).toBe(1);
    expect(a.events).toEqual([['config.changed', { v: 2 }]]);
    expect(router.disconnect('dev_a', 'DEVICE_REVOKED')).toBe(true);
    expect(a.closed).toEqual(['DEVICE_REVOKED']);
    expect(router.connectedCount()).toBe(0);
  });

  it('delivers device events to per-device and wildcard subscribers until they unsubscribe', () => {
    const router = new LocalDeviceRouter();
    const seen: string[] = [];
    const off = router.subscribe('dev_a', (id, name) => seen.push(`a:${id}:${name}`));
    router.subscribe('*', (id, name) => seen.push(`*:${id}:${name}`));
    router.deliver('dev_a', 'device.facts', {});
    router.deliver('dev_b', 'device.facts', {});
    off();
    router.deliver('dev_a', 'x', {});
    expect(seen).toEqual(['a:dev_a:device.facts', '*:dev_a:device.facts', '*:dev_b:device.facts', '*:dev_a:x']);
  });
});
