import { describe, expect, it } from 'vitest';
import type { Device, User } from '../../protocol/index.js';
import { ApiError, createApiClient } from './api-client.js';

const alice: User = { id: 1, username: 'alice', role: 'admin' };
const device: Device = {
  id: 'dev_aaaaaaaaaaaaaaaaaaaa',
  name: 'robot-1',
  status: 'active',
  online: true,
  lastSeen: 1_700_000_000_000,
  tags: { site: 'lab' },
  facts: null,
  createdAt: 1_600_000_000_000,
};

interface Call {
  url: string;
  init: RequestInit | undefined;
}

/** A fetch that records calls and answers from a table, so the client runs without a network. */
function fakeFetch(answer: (url: string, init: RequestInit | undefined) => Response | Promise<Response>) {
  const calls: Call[] = [];
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    calls.push({ url, init });
    return answer(url, init);
  };
  return { fetch, calls };
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

async function rejection(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

describe('createApiClient', () => {
  it('posts the credentials as JSON, same-origin, and parses the answer', async () => {
    const { fetch, calls } = fakeFetch(() => json(200, { token: 't', user: alice, expiresAt: 1 }));
    const api = createApiClient({ fetch });
    await expect(api.login({ username: 'alice', password: 'pw' })).resolves.toEqual({ token: 't', user: alice, expiresAt: 1 });
    expect(calls[0]?.url).toBe('/api/v1/auth/login');
    expect(calls[0]?.init?.method).toBe('POST');
    expect(calls[0]?.init?.credentials).toBe('same-origin');
    expect(JSON.parse(String(calls[0]?.init?.body))).toEqual({ username: 'alice', password: 'pw' });
  });

  it('turns an error body into an ApiError with its stable code', async () => {
    const { fetch } = fakeFetch(() => json(401, { code: 'LOGIN_FAILED', message: 'Wrong username or password' }));
    const error = await rejection(createApiClient({ fetch }).login({ username: 'alice', password: 'bad' }));
    expect(error.code).toBe('LOGIN_FAILED');
    expect(error.status).toBe(401);
  });

  it('reports an unknown code or a non-JSON error page as BAD_RESPONSE', async () => {
    const weird = fakeFetch(() => json(400, { code: 'NOT_A_CODE', message: 'x' }));
    expect((await rejection(createApiClient({ fetch: weird.fetch }).me())).code).toBe('BAD_RESPONSE');
    const html = fakeFetch(() => new Response('<html>502</html>', { status: 502 }));
    const error = await rejection(createApiClient({ fetch: html.fetch }).listDevices());
    expect(error.code).toBe('BAD_RESPONSE');
    expect(error.status).toBe(502);
  });

  it('reports a fetch that throws as NETWORK with status 0', async () => {
    const { fetch } = fakeFetch(() => Promise.reject(new TypeError('fetch failed')));
    const error = await rejection(createApiClient({ fetch }).me());
    expect(error.code).toBe('NETWORK');
    expect(error.status).toBe(0);
  });

  it('rejects a 2xx answer that does not match the protocol schema', async () => {
    const { fetch } = fakeFetch(() => json(200, { devices: [{ ...device, online: 'yes' }] }));
    expect((await rejection(createApiClient({ fetch }).listDevices())).code).toBe('BAD_RESPONSE');
  });

  it('parses /auth/me as a User, bare or wrapped', async () => {
    const bare = fakeFetch(() => json(200, alice));
    await expect(createApiClient({ fetch: bare.fetch }).me()).resolves.toEqual(alice);
    const wrapped = fakeFetch(() => json(200, { user: alice }));
    await expect(createApiClient({ fetch: wrapped.fetch }).me()).resolves.toEqual(alice);
  });

  it('maps a 401 on /auth/me to SESSION_INVALID', async () => {
    const { fetch } = fakeFetch(() => json(401, { code: 'SESSION_INVALID', message: 'expired' }));
    expect((await rejection(createApiClient({ fetch }).me())).code).toBe('SESSION_INVALID');
  });

  it('lists devices and logs out with an empty answer', async () => {
    const { fetch, calls } = fakeFetch((url) => (url.includes('/devices') ? json(200, { devices: [device], nextAfter: null }) : new Response(null, { status: 204 })));
    const api = createApiClient({ fetch, baseUrl: 'https://backend.example' });
    await expect(api.listDevices()).resolves.toEqual({ devices: [device], nextAfter: null });
    await expect(api.listDevices({ limit: 100, after: 'eyJh+/=' })).resolves.toEqual({ devices: [device], nextAfter: null });
    await expect(api.logout()).resolves.toBeUndefined();
    expect(calls.map((c) => c.url)).toEqual([
      'https://backend.example/api/v1/devices',
      'https://backend.example/api/v1/devices?limit=100&after=eyJh%2B%2F%3D',
      'https://backend.example/api/v1/auth/logout',
    ]);
  });

  it('bounds every request with a timeout signal', async () => {
    const { fetch, calls } = fakeFetch(() => json(200, alice));
    await createApiClient({ fetch, timeoutMs: 5 }).me();
    expect(calls[0]?.init?.signal).toBeInstanceOf(AbortSignal);
  });
});
