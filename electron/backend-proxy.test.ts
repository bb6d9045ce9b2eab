import { describe, expect, it, vi } from 'vitest';
import type { BackendProfile } from '../protocol/index.js';
import { backendSocketHeaders, createBackendProxy } from './backend-proxy.js';
import type { TokenStore } from './token-store.js';

const PROFILE: BackendProfile = { id: 'prof_aaaaaaaa', name: 'Lab', url: 'https://fleet.example:8443', caPin: `sha256:${'ab'.repeat(32)}` };
const USER = { id: 1, username: 'admin', role: 'admin' };

function memoryTokens(initial: Record<string, string> = {}): TokenStore {
  const tokens = new Map(Object.entries(initial));
  return {
    get: (id) => tokens.get(id) ?? null,
    set: (id, token) => void tokens.set(id, token),
    clear: (id) => void tokens.delete(id),
    storage: () => 'encrypted',
  };
}

/** A backend stand-in: records what reached it and answers with `reply`. */
function backend(reply: (url: string, init: RequestInit) => Response) {
  const calls: Array<{ url: string; init: RequestInit }> = [];
  const fetch = vi.fn(async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    return reply(url, init);
  });
  return { fetch, calls };
}

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

const appRequest = (path: string, init?: RequestInit) => {
  const request = new Request(`app://tether${path}`, init);
  return [request, new URL(request.url)] as const;
};

describe('backend proxy', () => {
  it('forwards to the active backend with the bearer token and no cookies or origin', async () => {
    const { fetch, calls } = backend(() => json({ devices: [] }, 200, { 'set-cookie': 'tether_session=x' }));
    const proxy = createBackendProxy({ activeProfile: () => PROFILE, tokens: memoryTokens({ [PROFILE.id]: 'tok1' }), fetch });
    const response = await proxy(...appRequest('/api/v1/devices?tag=a', { headers: { accept: 'application/json', cookie: 'evil=1', origin: 'app://tether', authorization: 'Bearer forged' } }));
    expect(calls[0]?.url).toBe('https://fleet.example:8443/api/v1/devices?tag=a');
    const sent = new Headers(calls[0]?.init.headers);
    expect(sent.get('authorization')).toBe('Bearer tok1');
    expect(sent.get('cookie')).toBeNull();
    expect(sent.get('origin')).toBeNull();
    expect(response.status).toBe(200);
    expect(response.headers.get('set-cookie')).toBeNull();
    expect(await response.json()).toEqual({ devices: [] });
  });

  it('keeps the token from a successful login and forgets it on logout', async () => {
    const tokens = memoryTokens();
    const { fetch, calls } = backend((url) =>
      url.endsWith('/auth/login') ? json({ token: 'tok-new', user: USER, expiresAt: 1 }) : new Response(null, { status: 204 }),
    );
    const proxy = createBackendProxy({ activeProfile: () => PROFILE, tokens, fetch });
    const login = await proxy(...appRequest('/api/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"username":"admin","password":"pw"}' }));
    expect(login.status).toBe(200);
    expect(new TextDecoder().decode(calls[0]?.init.body as ArrayBuffer)).toBe('{"username":"admin","password":"pw"}');
    expect(tokens.get(PROFILE.id)).toBe('tok-new');
    expect((await proxy(...appRequest('/api/v1/auth/logout', { method: 'POST' }))).status).toBe(204);
    expect(new Headers(calls[1]?.init.headers).get('authorization')).toBe('Bearer tok-new');
    expect(tokens.get(PROFILE.id)).toBeNull();
  });

  it('forgets a token the backend no longer accepts', async () => {
    const tokens = memoryTokens({ [PROFILE.id]: 'stale' });
    const { fetch } = backend(() => json({ code: 'SESSION_INVALID', message: 'expired' }, 401));
    const response = await createBackendProxy({ activeProfile: () => PROFILE, tokens, fetch })(...appRequest('/api/v1/auth/me'));
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ code: 'SESSION_INVALID', message: 'expired' });
    expect(tokens.get(PROFILE.id)).toBeNull();
  });

  it('keeps no token from a failed or malformed login', async () => {
    const tokens = memoryTokens();
    const { fetch } = backend(() => json({ tokenish: 'x' }));
    await createBackendProxy({ activeProfile: () => PROFILE, tokens, fetch })(...appRequest('/api/v1/auth/login', { method: 'POST', body: '{}' }));
    expect(tokens.get(PROFILE.id)).toBeNull();
  });

  it('answers with stable codes when there is no backend, it is unreachable, or the body is too big', async () => {
    const tokens = memoryTokens();
    const none = createBackendProxy({ activeProfile: () => null, tokens, fetch: vi.fn() });
    const noProfile = await none(...appRequest('/api/v1/devices'));
    expect([noProfile.status, ((await noProfile.json()) as { code: string }).code]).toEqual([409, 'NO_ACTIVE_PROFILE']);

    const down = createBackendProxy({ activeProfile: () => PROFILE, tokens, fetch: () => Promise.reject(new TypeError('net::ERR_CERT_INVALID')) });
    const unreachable = await down(...appRequest('/api/v1/devices'));
    expect([unreachable.status, ((await unreachable.json()) as { code: string }).code]).toEqual([503, 'BACKEND_UNREACHABLE']);

    const { fetch } = backend(() => json({}));
    const small = createBackendProxy({ activeProfile: () => PROFILE, tokens, fetch, maxRequestBytes: 10 });
    const tooBig = await small(...appRequest('/api/v1/jobs', { method: 'POST', body: 'x'.repeat(11) }));
    expect([tooBig.status, ((await tooBig.json()) as { code: string }).code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    expect(fetch).not.toHaveBeenCalled();
  });

  it('does not follow redirects (the backend never sends one; a hijacked one must not lead elsewhere)', async () => {
    const { fetch, calls } = backend(() => new Response(null, { status: 302, headers: { location: 'https://evil.test/' } }));
    const response = await createBackendProxy({ activeProfile: () => PROFILE, tokens: memoryTokens(), fetch })(...appRequest('/api/v1/x'));
    expect(calls[0]?.init.redirect).toBe('manual');
    expect(response.headers.get('location')).toBeNull();
    // Chromium's manual redirect: an opaque answer with status 0.
    const opaque = await createBackendProxy({ activeProfile: () => PROFILE, tokens: memoryTokens(), fetch: async () => Response.error() })(...appRequest('/api/v1/x'));
    expect([opaque.status, ((await opaque.json()) as { code: string }).code]).toEqual([503, 'BACKEND_UNREACHABLE']);
  });
});

describe('backendSocketHeaders', () => {
  const base = { Origin: 'app://tether', 'Sec-WebSocket-Version': '13', Cookie: 'a=b' };

  it('adds the token and the backend origin on sockets to the active backend', () => {
    expect(backendSocketHeaders('wss://fleet.example:8443/api/v1/console', base, PROFILE, 'tok1')).toEqual({
      'Sec-WebSocket-Version': '13',
      Origin: 'https://fleet.example:8443',
      Authorization: 'Bearer tok1',
    });
    expect(backendSocketHeaders('wss://fleet.example:8443/api/v1/console', base, PROFILE, null)).not.toHaveProperty('Authorization');
  });

  it('leaves every other request alone, so no other host ever sees the token', () => {
    for (const url of ['wss://fleet.example:9443/x', 'wss://evil.test/', 'ws://fleet.example:8443/api/v1/console', 'https://fleet.example:8443/api', 'nonsense']) {
      expect(backendSocketHeaders(url, base, PROFILE, 'tok1')).toEqual(base);
    }
    expect(backendSocketHeaders('wss://fleet.example:8443/api/v1/console', base, null, 'tok1')).toEqual(base);
  });
});
