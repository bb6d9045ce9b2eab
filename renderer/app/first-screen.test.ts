import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DeviceList, User } from '../../protocol/index.js';
import { ApiError, type ApiClient } from '../api/api-client.js';
import { createAuthStore } from '../auth/auth-store.js';
import { createFleetStore } from '../fleet/fleet-store.js';
import { bindSession } from './session.js';
import { whenFirstScreenReady } from './first-screen.js';

const alice: User = { id: 1, username: 'alice', role: 'admin' };
const page: DeviceList = {
  devices: [{ id: 'dev_00000000000000000001', name: 'robot-1', status: 'active', online: false, lastSeen: null, tags: {}, facts: null, createdAt: 0 }],
  nextAfter: 'robot-1',
};

/** The stores as main.tsx wires them, with the answers the test gives. */
function start(me: ApiClient['me'], listDevices: ApiClient['listDevices']) {
  const auth = createAuthStore({ api: { me, login: vi.fn(), logout: vi.fn() } });
  const fleet = createFleetStore({ api: { listDevices } });
  bindSession({ auth, fleet, socket: { start: vi.fn(), stop: vi.fn() } });
  void auth.getState().restore();
  return { auth, fleet };
}

describe('first screen', () => {
  afterEach(() => vi.useRealTimers());

  it('is ready once the first device page is in the fleet store, not when the session is', async () => {
    let answer: (list: DeviceList) => void = () => undefined;
    const stores = start(async () => alice, () => new Promise((resolve) => (answer = resolve)));
    let ready = false;
    const waited = whenFirstScreenReady(stores, 60_000).then(() => (ready = true));
    await vi.waitFor(() => expect(stores.auth.getState().phase).toBe('signed-in'));
    await Promise.resolve();
    expect(ready).toBe(false);
    answer(page);
    await waited;
    expect(stores.fleet.getState().ids).toEqual(['dev_00000000000000000001']);
  });

  it('is ready at once without a session (the sign-in form)', async () => {
    const listDevices = vi.fn<ApiClient['listDevices']>();
    const stores = start(async () => Promise.reject(new ApiError('SESSION_INVALID', 'no session', 401)), listDevices);
    await whenFirstScreenReady(stores, 60_000);
    expect(stores.auth.getState().phase).toBe('signed-out');
    expect(listDevices).not.toHaveBeenCalled();
  });

  it('is ready when the fleet cannot be listed (the table shows why)', async () => {
    const stores = start(async () => alice, async () => Promise.reject(new ApiError('INTERNAL', 'boom', 500)));
    // preview() leaves errors to the load on `ready`; the load reports them.
    await vi.waitFor(() => expect(stores.auth.getState().phase).toBe('signed-in'));
    void stores.fleet.getState().load();
    await whenFirstScreenReady(stores, 60_000);
    expect(stores.fleet.getState().loadError?.code).toBe('INTERNAL');
  });

  it('stops waiting after the bound when the backend does not answer', async () => {
    vi.useFakeTimers();
    const stores = start(() => new Promise(() => undefined), vi.fn<ApiClient['listDevices']>());
    let ready = false;
    const waited = whenFirstScreenReady(stores, 300).then(() => (ready = true));
    await vi.advanceTimersByTimeAsync(299);
    expect(ready).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await waited;
    expect(stores.auth.getState().phase).toBe('restoring');
  });
});
