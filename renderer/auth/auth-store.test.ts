import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LoginResponse, User } from '../../protocol/index.js';
import { ApiError, type ApiClient } from '../api/api-client.js';
import { createAuthStore } from './auth-store.js';

const alice: User = { id: 1, username: 'alice', role: 'admin' };

function fakeApi(overrides: Partial<Pick<ApiClient, 'login' | 'logout' | 'me'>> = {}) {
  return {
    login: vi.fn<ApiClient['login']>(async (): Promise<LoginResponse> => ({ token: 't', user: alice, expiresAt: 0 })),
    logout: vi.fn<ApiClient['logout']>(async () => undefined),
    me: vi.fn<ApiClient['me']>(async () => alice),
    ...overrides,
  };
}

describe('auth store', () => {
  afterEach(() => vi.restoreAllMocks());

  it('starts restoring and resumes a live session', async () => {
    const auth = createAuthStore({ api: fakeApi() });
    expect(auth.getState().phase).toBe('restoring');
    await auth.getState().restore();
    expect(auth.getState()).toMatchObject({ phase: 'signed-in', user: alice, error: null });
  });

  it('lands on the login screen without an error when there is no session', async () => {
    const api = fakeApi({ me: async () => Promise.reject(new ApiError('SESSION_INVALID', 'x', 401)) });
    const auth = createAuthStore({ api });
    await auth.getState().restore();
    expect(auth.getState()).toMatchObject({ phase: 'signed-out', user: null, error: null });
  });

  it('shows why when the backend cannot be reached at start-up', async () => {
    const api = fakeApi({ me: async () => Promise.reject(new ApiError('NETWORK', 'x', 0)) });
    const auth = createAuthStore({ api });
    await auth.getState().restore();
    expect(auth.getState().error?.code).toBe('NETWORK');
  });

  it('logs in and keeps the user', async () => {
    const api = fakeApi();
    const auth = createAuthStore({ api });
    await auth.getState().login({ username: 'alice', password: 'pw' });
    expect(api.login).toHaveBeenCalledWith({ username: 'alice', password: 'pw' });
    expect(auth.getState()).toMatchObject({ phase: 'signed-in', user: alice });
  });

  it('shows the protocol message for a failed login', async () => {
    const api = fakeApi({ login: async () => Promise.reject(new ApiError('LOGIN_FAILED', 'server text', 401)) });
    const auth = createAuthStore({ api });
    await auth.getState().login({ username: 'alice', password: 'bad' });
    expect(auth.getState()).toMatchObject({
      phase: 'signed-out',
      user: null,
      error: { code: 'LOGIN_FAILED', message: 'Wrong username or password' },
    });
  });

  it('refuses credentials the protocol would reject without asking the backend', async () => {
    const api = fakeApi();
    const auth = createAuthStore({ api });
    await auth.getState().login({ username: '', password: 'pw' });
    expect(api.login).not.toHaveBeenCalled();
    expect(auth.getState().error?.code).toBe('BAD_REQUEST');
  });

  it('ignores a second submit while one is in flight', async () => {
    let finish: (value: LoginResponse) => void = () => undefined;
    const api = fakeApi({ login: vi.fn(() => new Promise<LoginResponse>((resolve) => (finish = resolve))) });
    const auth = createAuthStore({ api });
    const first = auth.getState().login({ username: 'alice', password: 'pw' });
    expect(auth.getState().phase).toBe('signing-in');
    await auth.getState().login({ username: 'alice', password: 'pw' });
    finish({ token: 't', user: alice, expiresAt: 0 });
    await first;
    expect(api.login).toHaveBeenCalledOnce();
  });

  it('signs out locally at once and tells the backend, even if that fails', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const api = fakeApi({ logout: vi.fn(async () => Promise.reject(new ApiError('NETWORK', 'x', 0))) });
    const auth = createAuthStore({ api });
    await auth.getState().restore();
    const pending = auth.getState().logout();
    expect(auth.getState()).toMatchObject({ phase: 'signed-out', user: null });
    await pending;
    expect(api.logout).toHaveBeenCalledOnce();
    expect(auth.getState().error).toBeNull();
  });

  it('explains an ended session on the login screen', async () => {
    const auth = createAuthStore({ api: fakeApi() });
    await auth.getState().restore();
    auth.getState().sessionEnded();
    expect(auth.getState()).toMatchObject({ phase: 'signed-out', user: null, error: { code: 'SESSION_INVALID' } });
  });
});
