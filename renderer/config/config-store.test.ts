import { describe, expect, it, vi } from 'vitest';
import type { ConfigLayer } from '../../protocol/index.js';
import { ApiError } from '../api/api-client.js';
import type { ConfigApi } from './config-api.js';
import { createConfigStore } from './config-store.js';

const fleet: ConfigLayer = { id: 'fleet', kind: 'fleet', selector: {}, priority: 0, values: { app: { a: 1 } }, version: 4, updatedAt: 0, updatedBy: 'user:x' };

function fakeApi(overrides: Partial<ConfigApi> = {}): ConfigApi {
  return {
    layers: vi.fn(async () => [fleet]),
    putLayer: vi.fn(async (_id, write) => ({ ...fleet, values: write.values, version: 5 })),
    deleteLayer: vi.fn(async () => undefined),
    rollback: vi.fn(async () => fleet),
    validate: vi.fn(async () => ({ ok: true, errors: [] })),
    history: vi.fn(async () => ({ revisions: [] })),
    diff: vi.fn(async () => ({ target: 'fleet', from: 0, to: 0, changes: [] })),
    status: vi.fn(async () => ({ devices: [] })),
    effective: vi.fn(),
    ...overrides,
  } as ConfigApi;
}

describe('config store', () => {
  it('loads the fleet layer into the editor with the version it started from', async () => {
    const store = createConfigStore({ api: fakeApi() });
    await store.getState().loadLayers();
    expect(store.getState()).toMatchObject({ selectedId: 'fleet', draftBaseVersion: 4 });
    expect(JSON.parse(store.getState().draft)).toEqual({ app: { a: 1 } });
  });

  it('flags bad JSON at once and schema issues after the backend check', async () => {
    const validate = vi.fn(async () => ({ ok: false, code: 'CONFIG_SCHEMA_VIOLATION', errors: [{ path: '/app/a', message: 'must be string' }] }));
    const store = createConfigStore({ api: fakeApi({ validate }), validateDelayMs: 0 });
    await store.getState().loadLayers();
    store.getState().setDraft('{ "app": ');
    expect(store.getState().draftCheck).toMatchObject({ state: 'invalid', code: 'JSON' });
    expect(validate).not.toHaveBeenCalled();
    store.getState().setDraft('{ "app": { "a": 2 } }');
    expect(store.getState().draftCheck.state).toBe('checking');
    await vi.waitFor(() => expect(store.getState().draftCheck).toMatchObject({ state: 'invalid', code: 'CONFIG_SCHEMA_VIOLATION' }));
    expect(validate).toHaveBeenCalledWith('fleet', { app: { a: 2 } }, undefined);
  });

  it("asks for the edited device's effective config with the draft in place, and keeps it as the preview", async () => {
    const device = 'dev_0123456789abcdefghij';
    const effective = { deviceId: device, config: { app: { a: 9 } }, sources: { '/app/a': `device:${device}` }, layers: ['fleet', `device:${device}`] };
    const validate = vi.fn(async () => ({ ok: true, errors: [], effective }));
    const store = createConfigStore({ api: fakeApi({ validate }), validateDelayMs: 0 });
    await store.getState().loadLayers();
    store.getState().select(`device:${device}`);
    store.getState().setDraft('{ "app": { "a": 9 } }');
    await vi.waitFor(() => expect(store.getState().preview).toEqual(effective));
    expect(validate).toHaveBeenCalledWith(`device:${device}`, { app: { a: 9 } }, device);
    store.getState().setDraft('{ nope');
    expect(store.getState().preview).toBeNull();
  });

  it('saves with the base version, and on a conflict keeps the draft and shows the code', async () => {
    const putLayer = vi.fn(async () => {
      throw new ApiError('CONFIG_VERSION_CONFLICT', 'stale', 409);
    });
    const store = createConfigStore({ api: fakeApi({ putLayer }), validateDelayMs: 0 });
    await store.getState().loadLayers();
    store.getState().setDraft('{ "app": { "a": 3 } }');
    expect(await store.getState().save('bump')).toBe(false);
    expect(putLayer).toHaveBeenCalledWith('fleet', expect.objectContaining({ expectedVersion: 4, message: 'bump', values: { app: { a: 3 } } }));
    expect(store.getState().saveError?.code).toBe('CONFIG_VERSION_CONFLICT');
    expect(store.getState().draft).toBe('{ "app": { "a": 3 } }');
  });

  it('moves the base version forward after a save', async () => {
    const store = createConfigStore({ api: fakeApi(), validateDelayMs: 0 });
    await store.getState().loadLayers();
    expect(await store.getState().save('ok')).toBe(true);
    expect(store.getState().draftBaseVersion).toBe(5);
  });
});
