import { describe, expect, it } from 'vitest';
import type { Device } from '../../protocol/index.js';
import { createApiClient } from './api-client.js';
import { API_PREFIX, ME_PATH, devicesPath } from './api-paths.js';
import { createEarlyFetch } from './early-fetch.js';

interface Call {
  url: string;
  init: RequestInit | undefined;
}

/** A network stand-in: records each request and answers from `answer`; `release()` lets held answers through. */
function network(answer: (url: string) => unknown = (url) => ({ url })) {
  const calls: Call[] = [];
  let release = (): void => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let held = false;
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    calls.push({ url, init });
    if (held) await gate;
    const body = answer(url);
    if (body instanceof Error) throw body;
    return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
  };
  return {
    fetch,
    calls,
    hold: () => void (held = true),
    release: () => release(),
  };
}

const json = async (response: Response): Promise<unknown> => response.json();

describe('createEarlyFetch', () => {
  it('starts the GETs at once, same-origin and bounded, before anyone asks', () => {
    const net = network();
    createEarlyFetch(net.fetch, ['/api/v1/auth/me', '/api/v1/devices?limit=100']);
    expect(net.calls.map((c) => c.url)).toEqual(['/api/v1/auth/me', '/api/v1/devices?limit=100']);
    for (const { init } of net.calls) {
      expect(init?.method).toBe('GET');
      expect(init?.credentials).toBe('same-origin');
      expect(init?.signal).toBeInstanceOf(AbortSignal);
    }
  });

  it('hands each early answer to the first GET of its URL, once; the next GET goes to the network', async () => {
    let served = 0;
    const net = network((url) => ({ url, served: ++served }));
    const fetch = createEarlyFetch(net.fetch, ['/api/v1/auth/me']);
    expect(await json(await fetch('/api/v1/auth/me', { method: 'GET' }))).toEqual({ url: '/api/v1/auth/me', served: 1 });
    expect(net.calls).toHaveLength(1);
    expect(await json(await fetch('/api/v1/auth/me'))).toEqual({ url: '/api/v1/auth/me', served: 2 });
    expect(net.calls).toHaveLength(2);
  });

  it('gives a GET that comes before the answer the same request, not a second one', async () => {
    const net = network();
    net.hold();
    const fetch = createEarlyFetch(net.fetch, ['/api/v1/auth/me']);
    const pending = fetch('/api/v1/auth/me');
    net.release();
    expect(await json(await pending)).toEqual({ url: '/api/v1/auth/me' });
    expect(net.calls).toHaveLength(1);
  });

  it('sends other URLs and other methods to the network', async () => {
    const net = network();
    const fetch = createEarlyFetch(net.fetch, ['/api/v1/devices?limit=100']);
    await fetch('/api/v1/devices?limit=2000', { method: 'GET' });
    await fetch('/api/v1/devices?limit=100', { method: 'POST', body: '{}' });
    expect(net.calls.map((c) => [c.url, c.init?.method])).toEqual([
      ['/api/v1/devices?limit=100', 'GET'],
      ['/api/v1/devices?limit=2000', 'GET'],
      ['/api/v1/devices?limit=100', 'POST'],
    ]);
    // The early answer is still there for its own GET.
    await fetch('/api/v1/devices?limit=100');
    expect(net.calls).toHaveLength(3);
  });

  it('drops answers nobody took within maxAgeMs: it is a head start, not a cache', async () => {
    const net = network();
    const fetch = createEarlyFetch(net.fetch, ['/api/v1/auth/me'], { maxAgeMs: 5 });
    await new Promise((resolve) => setTimeout(resolve, 30));
    await fetch('/api/v1/auth/me');
    expect(net.calls).toHaveLength(2);
  });

  it('passes a network failure to the GET that takes it, and leaves none unhandled when nobody does', async () => {
    const net = network(() => new TypeError('Failed to fetch'));
    const fetch = createEarlyFetch(net.fetch, ['/api/v1/auth/me', '/api/v1/devices?limit=100'], { maxAgeMs: 5 });
    await expect(fetch('/api/v1/auth/me')).rejects.toThrow('Failed to fetch');
    // The untaken one rejects too; vitest fails the run on an unhandled rejection.
    await new Promise((resolve) => setTimeout(resolve, 30));
  });

  it('serves the API client: the session and the first device page are the URLs it asks for', async () => {
    const alice = { id: 1, username: 'alice', role: 'admin' };
    const device: Device = { id: 'dev_aaaaaaaaaaaaaaaaaaaa', name: 'robot-1', status: 'active', online: true, lastSeen: null, tags: {}, facts: null, createdAt: 1 };
    const net = network((url) => (url.startsWith(`${API_PREFIX}/devices`) ? { devices: [device], nextAfter: null } : alice));
    const fetch = createEarlyFetch(net.fetch, [`${API_PREFIX}${ME_PATH}`, `${API_PREFIX}${devicesPath({ limit: 100 })}`]);
    const api = createApiClient({ fetch });
    await expect(api.me()).resolves.toEqual(alice);
    await expect(api.listDevices({ limit: 100 })).resolves.toEqual({ devices: [device], nextAfter: null });
    expect(net.calls).toHaveLength(2);
  });
});
