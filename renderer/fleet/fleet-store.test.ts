import { describe, expect, it, vi } from 'vitest';
import type { Device, DeviceList } from '../../protocol/index.js';
import { ApiError, type ApiClient } from '../api/api-client.js';
import { FIRST_PAGE, LIST_PAGE } from './fleet-pages.js';
import { countOnline, createFleetStore } from './fleet-store.js';

const id = (n: number) => `dev_${String(n).padStart(20, '0')}`;

function device(n: number, overrides: Partial<Device> = {}): Device {
  return { id: id(n), name: `robot-${n}`, status: 'active', online: false, lastSeen: null, tags: {}, facts: null, createdAt: 0, ...overrides };
}

/** A listDevices whose answers the test releases by hand, to order them against events. */
function controlledList() {
  const waiting: Array<{ resolve: (list: DeviceList) => void; reject: (error: unknown) => void }> = [];
  const listDevices = vi.fn<ApiClient['listDevices']>(() => new Promise((resolve, reject) => waiting.push({ resolve, reject })));
  const next = () => {
    const entry = waiting.shift();
    if (entry === undefined) throw new Error('no list request is waiting');
    return entry;
  };
  return { api: { listDevices }, next };
}

async function loaded(devices: Device[]) {
  const { api, next } = controlledList();
  const fleet = createFleetStore({ api });
  const done = fleet.getState().load();
  next().resolve({ devices, nextAfter: null });
  await done;
  return { fleet, api, next };
}

describe('fleet store', () => {
  it('loads the list keyed by id and ordered by name, numbers in order', async () => {
    const { fleet } = await loaded([device(10), device(2), device(1)]);
    const state = fleet.getState();
    expect(state.loading).toBe(false);
    expect(state.ids).toEqual([id(1), id(2), id(10)]);
    expect(state.byId.get(id(2))?.name).toBe('robot-2');
  });

  it('applies a status change to that device only, keeping the order and the other entries', async () => {
    const { fleet } = await loaded([device(1), device(2)]);
    const before = fleet.getState();
    fleet.getState().apply({ type: 'device.status', id: id(1), online: true, lastSeen: 99 });
    const after = fleet.getState();
    expect(after.byId.get(id(1))).toMatchObject({ online: true, lastSeen: 99, name: 'robot-1' });
    expect(after.byId.get(id(2))).toBe(before.byId.get(id(2)));
    expect(after.ids).toBe(before.ids);
  });

  it('does not notify for a status that changes nothing, nor for an unknown device', async () => {
    const { fleet } = await loaded([device(1, { online: true, lastSeen: 5 })]);
    const listener = vi.fn();
    fleet.subscribe(listener);
    fleet.getState().apply({ type: 'device.status', id: id(1), online: true, lastSeen: 5 });
    fleet.getState().apply({ type: 'device.status', id: id(9), online: true, lastSeen: 5 });
    fleet.getState().apply({ type: 'device.removed', id: id(9) });
    expect(listener).not.toHaveBeenCalled();
  });

  it('adds, renames and removes devices', async () => {
    const { fleet } = await loaded([device(1), device(3)]);
    fleet.getState().apply({ type: 'device.upsert', device: device(2) });
    expect(fleet.getState().ids).toEqual([id(1), id(2), id(3)]);
    fleet.getState().apply({ type: 'device.upsert', device: device(1, { name: 'zeta' }) });
    expect(fleet.getState().ids).toEqual([id(2), id(3), id(1)]);
    fleet.getState().apply({ type: 'device.removed', id: id(3) });
    expect(fleet.getState().ids).toEqual([id(2), id(1)]);
    expect(fleet.getState().byId.get(id(3))).toBeUndefined();
  });

  it('replays events that raced the list on top of it', async () => {
    const { fleet, next } = await loaded([device(1), device(2)]);
    const reload = fleet.getState().load();
    fleet.getState().apply({ type: 'device.status', id: id(1), online: true, lastSeen: 50 });
    fleet.getState().apply({ type: 'device.upsert', device: device(3, { online: true }) });
    fleet.getState().apply({ type: 'device.removed', id: id(2) });
    // The list was taken before those events happened.
    next().resolve({ devices: [device(1), device(2)], nextAfter: null });
    await reload;
    const state = fleet.getState();
    expect(state.ids).toEqual([id(1), id(3)]);
    expect(state.byId.get(id(1))).toMatchObject({ online: true, lastSeen: 50 });
    // Later events apply directly again.
    fleet.getState().apply({ type: 'device.status', id: id(3), online: false, lastSeen: 60 });
    expect(fleet.getState().byId.get(id(3))?.online).toBe(false);
  });

  it('shows the first page of the first load at once and stays busy until the last page', async () => {
    const { api, next } = controlledList();
    const fleet = createFleetStore({ api });
    const done = fleet.getState().load();
    next().resolve({ devices: [device(2), device(1)], nextAfter: 'c1' });
    await vi.waitFor(() => expect(api.listDevices).toHaveBeenCalledTimes(2));
    expect(fleet.getState()).toMatchObject({ ids: [id(1), id(2)], loading: true });
    next().resolve({ devices: [device(3)], nextAfter: 'c2' });
    await vi.waitFor(() => expect(api.listDevices).toHaveBeenCalledTimes(3));
    next().resolve({ devices: [device(4)], nextAfter: null });
    await done;
    expect(fleet.getState()).toMatchObject({ ids: [id(1), id(2), id(3), id(4)], loading: false });
    expect(api.listDevices.mock.calls).toEqual([[{ limit: FIRST_PAGE }], [{ limit: LIST_PAGE, after: 'c1' }], [{ limit: LIST_PAGE, after: 'c2' }]]);
  });

  it('asks for the first page in the size it was given (the one boot.ts fetched early), preview and load alike', async () => {
    const { api, next } = controlledList();
    const fleet = createFleetStore({ api, firstPage: 25 });
    const preview = fleet.getState().preview();
    next().resolve({ devices: [device(1)], nextAfter: 'c1' });
    await preview;
    const done = fleet.getState().load();
    next().resolve({ devices: [device(1)], nextAfter: 'c1' });
    await vi.waitFor(() => expect(api.listDevices).toHaveBeenCalledTimes(3));
    next().resolve({ devices: [device(2)], nextAfter: null });
    await done;
    expect(api.listDevices.mock.calls).toEqual([[{ limit: 25 }], [{ limit: 25 }], [{ limit: LIST_PAGE, after: 'c1' }]]);
  });

  it('previews the first page before any load, and the load replaces it', async () => {
    const { api, next } = controlledList();
    const fleet = createFleetStore({ api });
    const preview = fleet.getState().preview();
    next().resolve({ devices: [device(2), device(1)], nextAfter: 'c1' });
    await preview;
    expect(fleet.getState()).toMatchObject({ ids: [id(1), id(2)], loading: true });
    expect(api.listDevices.mock.calls).toEqual([[{ limit: FIRST_PAGE }]]);
    // A preview once rows are shown asks for nothing.
    await fleet.getState().preview();
    expect(api.listDevices).toHaveBeenCalledOnce();
    const done = fleet.getState().load();
    next().resolve({ devices: [device(1, { name: 'renamed' })], nextAfter: null });
    await done;
    expect(fleet.getState()).toMatchObject({ ids: [id(1)], loading: false });
    expect(fleet.getState().byId.get(id(1))?.name).toBe('renamed');
  });

  it('drops a preview that a load overtook', async () => {
    const { api, next } = controlledList();
    const fleet = createFleetStore({ api });
    const preview = fleet.getState().preview();
    const previewRequest = next();
    const done = fleet.getState().load();
    next().resolve({ devices: [device(3)], nextAfter: null });
    await done;
    previewRequest.resolve({ devices: [device(1)], nextAfter: 'c1' });
    await preview;
    expect(fleet.getState()).toMatchObject({ ids: [id(3)], loading: false });
    expect(api.listDevices).toHaveBeenCalledTimes(2);
  });

  it('keeps the previous list while a reload fetches its pages', async () => {
    const { fleet, api, next } = await loaded([device(1), device(2)]);
    const reload = fleet.getState().load();
    next().resolve({ devices: [device(1)], nextAfter: 'c1' });
    await vi.waitFor(() => expect(api.listDevices).toHaveBeenCalledTimes(3));
    expect(fleet.getState()).toMatchObject({ ids: [id(1), id(2)], loading: false });
    next().resolve({ devices: [device(3)], nextAfter: null });
    await reload;
    expect(fleet.getState().ids).toEqual([id(1), id(3)]);
  });

  it('keeps an event newer than the page that brings its device', async () => {
    const { api, next } = controlledList();
    const fleet = createFleetStore({ api });
    const done = fleet.getState().load();
    next().resolve({ devices: [device(1)], nextAfter: 'c1' });
    await vi.waitFor(() => expect(api.listDevices).toHaveBeenCalledTimes(2));
    fleet.getState().apply({ type: 'device.upsert', device: device(2, { tags: { fresh: '1' } }) });
    // The second page was read before that change.
    next().resolve({ devices: [device(2)], nextAfter: null });
    await done;
    expect(fleet.getState().byId.get(id(2))?.tags).toEqual({ fresh: '1' });
  });

  it('keeps only the newest of overlapping loads', async () => {
    const { api, next } = controlledList();
    const fleet = createFleetStore({ api });
    const first = fleet.getState().load();
    const second = fleet.getState().load();
    const firstRequest = next();
    next().resolve({ devices: [device(2)], nextAfter: null });
    await second;
    firstRequest.resolve({ devices: [device(1)], nextAfter: null });
    await first;
    expect(fleet.getState().ids).toEqual([id(2)]);
  });

  it('keeps the last list and reports the error when a reload fails', async () => {
    const { fleet, next } = await loaded([device(1)]);
    const reload = fleet.getState().load();
    next().reject(new ApiError('NETWORK', 'x', 0));
    await reload;
    expect(fleet.getState().ids).toEqual([id(1)]);
    expect(fleet.getState().loadError?.code).toBe('NETWORK');
  });

  it('clear forgets everything and drops a load still in flight', async () => {
    const { fleet, next } = await loaded([device(1)]);
    const reload = fleet.getState().load();
    fleet.getState().clear();
    next().resolve({ devices: [device(5)], nextAfter: null });
    await reload;
    expect(fleet.getState()).toMatchObject({ ids: [], online: 0, loading: true, loadError: null });
    expect(fleet.getState().byId.size).toBe(0);
  });

  it('counts online devices', async () => {
    const { fleet } = await loaded([device(1, { online: true }), device(2), device(3, { online: true })]);
    expect(countOnline(fleet.getState().byId)).toBe(2);
    expect(fleet.getState().online).toBe(2);
  });
});

describe('fleet store batches', () => {
  it('applies a batch in order, with one notification, and keeps the online count', async () => {
    const { fleet } = await loaded([device(1), device(2), device(3)]);
    const before = fleet.getState();
    const listener = vi.fn();
    fleet.subscribe(listener);
    fleet.getState().applyMany([
      { type: 'device.status', id: id(1), online: true, lastSeen: 10 },
      { type: 'device.status', id: id(1), online: false, lastSeen: 20 },
      { type: 'device.status', id: id(2), online: true, lastSeen: 30 },
      { type: 'device.removed', id: id(3) },
      { type: 'device.status', id: id(9), online: true, lastSeen: 1 },
    ]);
    expect(listener).toHaveBeenCalledTimes(1);
    const after = fleet.getState();
    expect(after.byId.get(id(1))).toMatchObject({ online: false, lastSeen: 20 });
    expect(after.byId.get(id(2))).toMatchObject({ online: true, lastSeen: 30 });
    expect(after.ids).toEqual([id(1), id(2)]);
    expect(after.version).toBe(before.version + 1);
    expect(after.online).toBe(1);
    expect(after.online).toBe(countOnline(after.byId));
  });

  it('keeps the order array when a batch only changes status', async () => {
    const { fleet } = await loaded([device(1), device(2)]);
    const ids = fleet.getState().ids;
    fleet.getState().applyMany([{ type: 'device.status', id: id(2), online: true, lastSeen: 5 }]);
    expect(fleet.getState().ids).toBe(ids);
  });

  it('re-adds a device removed and upserted in the same batch', async () => {
    const { fleet } = await loaded([device(1), device(2)]);
    fleet.getState().applyMany([{ type: 'device.removed', id: id(2) }, { type: 'device.upsert', device: device(2, { tags: { a: '1' } }) }]);
    expect(fleet.getState().ids).toEqual([id(1), id(2)]);
    expect(fleet.getState().byId.get(id(2))?.tags).toEqual({ a: '1' });
  });
});
