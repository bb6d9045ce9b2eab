import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it, vi } from 'vitest';
import { createStore, type StoreApi } from 'zustand/vanilla';
import { hasControlCharacters, type Device, type User } from '../../protocol/index.js';
import type { ApiClient } from '../api/api-client.js';
import { ApiError } from '../api/api-client.js';
import { createAuthStore } from '../auth/auth-store.js';
import { createConnectionStore } from '../live/connection-store.js';
import { createFleetStore } from '../fleet/fleet-store.js';
import { createClockStore } from '../time/clock-store.js';
import { App } from './app.js';
import { AppStoresContext, type AppStores } from './app-stores.js';

// No DOM in these tests: React renders to a string. On the server zustand reads a store's
// initial state, so each store is frozen into a fresh one whose initial state is the scene.
const frozen = <T,>(store: StoreApi<T>): StoreApi<T> => createStore<T>()(() => store.getState());

const NOW = 1_700_000_000_000;
const alice: User = { id: 1, username: 'alice', role: 'admin' };
const device = (n: number, overrides: Partial<Device> = {}): Device => ({
  id: `dev_${String(n).padStart(20, '0')}`,
  name: `robot-${n}`,
  status: 'active',
  online: false,
  lastSeen: null,
  tags: {},
  facts: null,
  createdAt: 0,
  ...overrides,
});

async function scene(options: { user?: User; loginError?: ApiError; devices?: Device[] }): Promise<string> {
  const api = {
    login: vi.fn<ApiClient['login']>(async () => {
      throw options.loginError ?? new Error('unused');
    }),
    logout: vi.fn<ApiClient['logout']>(async () => undefined),
    me: vi.fn<ApiClient['me']>(async () => {
      if (options.user === undefined) throw new ApiError('SESSION_INVALID', 'x', 401);
      return options.user;
    }),
    listDevices: vi.fn<ApiClient['listDevices']>(async () => ({ devices: options.devices ?? [], nextAfter: null })),
  };
  const auth = createAuthStore({ api });
  await auth.getState().restore();
  if (options.loginError !== undefined) await auth.getState().login({ username: 'alice', password: 'bad' });
  const fleet = createFleetStore({ api });
  if (options.devices !== undefined) await fleet.getState().load();
  const connection = createConnectionStore();
  connection.getState().setStatus('live');
  const stores: AppStores = {
    auth: frozen(auth),
    fleet: frozen(fleet),
    connection: frozen(connection),
    clock: createClockStore(() => NOW),
  };
  return renderToStaticMarkup(
    <AppStoresContext value={stores}>
      <App />
    </AppStoresContext>,
  );
}

/** The text of the first element carrying `data-testid="<id>"` (no nested elements expected). */
function textOf(html: string, testId: string): string | undefined {
  return new RegExp(`data-testid="${testId}"[^>]*>([^<]*)<`).exec(html)?.[1];
}

describe('App', () => {
  it('shows the login form with its test ids when signed out', async () => {
    const html = await scene({});
    for (const id of ['login-username', 'login-password', 'login-submit']) expect(html).toContain(`data-testid="${id}"`);
    expect(html).not.toContain('data-testid="login-error"');
    expect(html).not.toContain('data-testid="fleet-table"');
  });

  it('shows the code’s message after a failed login', async () => {
    const html = await scene({ loginError: new ApiError('LOGIN_FAILED', 'whatever the server said', 401) });
    expect(textOf(html, 'login-error')).toBe('Wrong username or password');
  });

  it('shows the fleet with one row per device, status, last seen and count', async () => {
    const html = await scene({
      user: alice,
      devices: [
        device(1, { online: true, lastSeen: NOW - 12_000, tags: { site: 'lab' } }),
        device(2, { status: 'pending' }),
        device(3, { status: 'revoked', lastSeen: NOW - 3_600_000 }),
      ],
    });
    expect(textOf(html, 'fleet-count')).toBe('3');
    expect(textOf(html, 'current-user')).toBe('alice');
    expect(textOf(html, 'console-connection')).toBe('live');
    expect(html).toContain('data-testid="logout"');
    const rows = html.split('data-testid="device-row"').slice(1);
    expect(rows).toHaveLength(3);
    expect(rows[0]).toContain('data-device-id="dev_00000000000000000001"');
    expect(textOf(rows[0] ?? '', 'device-name')).toBe('robot-1');
    expect(textOf(rows[0] ?? '', 'device-status')).toBe('online');
    // Online: "online", which stays true, not a "12 s ago" that ages until the next reconnect.
    expect(textOf(rows[0] ?? '', 'device-last-seen')).toBe('online');
    expect(textOf(rows[1] ?? '', 'device-status')).toBe('offline');
    expect(textOf(rows[1] ?? '', 'device-last-seen')).toBe('never');
    expect(rows[1]).toContain('>pending<');
    expect(rows[2]).toContain('>revoked<');
    expect(textOf(rows[2] ?? '', 'device-last-seen')).toBe('1 h ago');
  });

  it('says so when the fleet is empty, without a device row', async () => {
    const html = await scene({ user: alice, devices: [] });
    expect(textOf(html, 'fleet-count')).toBe('0');
    expect(html).not.toContain('data-testid="device-row"');
    expect(html).toContain('No devices enrolled yet.');
  });

  it('shows control characters in names, tags and user names escaped, never raw (data stored before the API refused them)', async () => {
    const html = await scene({
      user: { ...alice, username: 'eve\u001b[8m' },
      devices: [device(1, { name: 'robot\u001b[2J\u009b31m', tags: { site: 'lab\u0007' } })],
    });
    expect(textOf(html, 'device-name')).toBe('robot\\u001b[2J\\u009b31m');
    expect(textOf(html, 'device-tag')).toBe('site=lab\\u0007');
    expect(textOf(html, 'current-user')).toBe('eve\\u001b[8m');
    expect(html).toContain('aria-label="Select robot\\u001b[2J\\u009b31m"');
    expect(hasControlCharacters(html.replace(/[\n\t]/g, ''))).toBe(false);
  });
});
