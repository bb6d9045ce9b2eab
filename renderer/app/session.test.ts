import { describe, expect, it, vi } from 'vitest';
import { ApiError, type ApiClient } from '../api/api-client.js';
import { createAuthStore } from '../auth/auth-store.js';
import { FIRST_PAGE } from '../fleet/fleet-pages.js';
import { createFleetStore } from '../fleet/fleet-store.js';
import { bindSession, routeConsoleMessage } from './session.js';

const alice = { id: 1, username: 'alice', role: 'admin' } as const;
const robot = { id: 'dev_aaaaaaaaaaaaaaaaaaaa', name: 'r', status: 'active', online: false, lastSeen: null, tags: {}, facts: null, createdAt: 0 } as const;

function parts() {
  const api = {
    login: vi.fn<ApiClient['login']>(async () => ({ token: 't', user: alice, expiresAt: 0 })),
    logout: vi.fn<ApiClient['logout']>(async () => undefined),
    me: vi.fn<ApiClient['me']>(async () => alice),
    listDevices: vi.fn<ApiClient['listDevices']>(async () => ({ devices: [robot], nextAfter: null })),
  };
  const auth = createAuthStore({ api });
  const fleet = createFleetStore({ api });
  const socket = { start: vi.fn(), stop: vi.fn() };
  return { api, auth, fleet, socket };
}

describe('bindSession', () => {
  it('connects when signed in and disconnects and forgets the fleet when signed out', async () => {
    const { auth, fleet, socket, api } = parts();
    bindSession({ auth, fleet, socket });
    expect(socket.start).not.toHaveBeenCalled();

    await auth.getState().login({ username: 'alice', password: 'pw' });
    expect(socket.start).toHaveBeenCalledOnce();
    // The first page is fetched while the socket connects, so the table fills before `ready`.
    expect(api.listDevices).toHaveBeenCalledWith({ limit: FIRST_PAGE });
    await vi.waitFor(() => expect(fleet.getState().ids).toHaveLength(1));

    await fleet.getState().load();
    expect(fleet.getState().ids).toHaveLength(1);
    socket.stop.mockClear();
    await auth.getState().logout();
    expect(socket.stop).toHaveBeenCalledOnce();
    expect(fleet.getState().ids).toEqual([]);
  });

  it('stops the socket before telling the backend to log out, so its 4401 is not taken for an expiry', async () => {
    const { auth, fleet, socket, api } = parts();
    const order: string[] = [];
    socket.stop.mockImplementation(() => order.push('stop'));
    api.logout.mockImplementation(async () => {
      order.push('logout');
    });
    bindSession({ auth, fleet, socket });
    await auth.getState().restore();
    order.length = 0;
    await auth.getState().logout();
    expect(order).toEqual(['stop', 'logout']);
  });

  it('ends the session when the device list is refused for want of one', async () => {
    const { auth, fleet, socket, api } = parts();
    bindSession({ auth, fleet, socket });
    await auth.getState().restore();
    api.listDevices.mockRejectedValueOnce(new ApiError('SESSION_INVALID', 'x', 401));
    await fleet.getState().load();
    expect(auth.getState()).toMatchObject({ phase: 'signed-out', error: { code: 'SESSION_INVALID' } });
    expect(socket.stop).toHaveBeenCalled();
  });

  it('stops following after unsubscribe', async () => {
    const { auth, fleet, socket } = parts();
    const unbind = bindSession({ auth, fleet, socket });
    unbind();
    await auth.getState().restore();
    expect(socket.start).not.toHaveBeenCalled();
  });
});

describe('routeConsoleMessage', () => {
  it('refetches the list on every ready and applies device events', async () => {
    const { fleet, api } = parts();
    routeConsoleMessage({ type: 'ready', user: alice }, { fleet });
    await vi.waitFor(() => expect(fleet.getState().loading).toBe(false));
    routeConsoleMessage({ type: 'device.status', id: robot.id, online: true, lastSeen: 7 }, { fleet });
    expect(fleet.getState().byId.get(robot.id)).toMatchObject({ online: true, lastSeen: 7 });
    routeConsoleMessage({ type: 'ready', user: alice }, { fleet });
    expect(api.listDevices).toHaveBeenCalledTimes(2);
  });

  it('ignores device responses for now', () => {
    const { fleet } = parts();
    const before = fleet.getState();
    routeConsoleMessage({ type: 'device.response', id: 1, ok: true }, { fleet });
    expect(fleet.getState()).toBe(before);
  });
});
