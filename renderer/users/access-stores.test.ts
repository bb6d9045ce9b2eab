import { describe, expect, it, vi } from 'vitest';
import type { AuditEntry, AuditQueryInput, UserInfo } from '../../protocol/index.js';
import { ApiError } from '../api/json-request.js';
import type { AccessApi } from './access-api.js';
import { createAccessStores } from './access-stores.js';

const entry = (id: number): AuditEntry => ({ id, ts: id, actor: 'user:a', action: 'x', target: null, details: {} });
const unused = () => Promise.reject(new Error('not used'));

function fakeApi(overrides: Partial<AccessApi>): AccessApi {
  return {
    users: unused, createUser: unused, updateUser: unused, deleteUser: unused, tokens: unused, createToken: unused, revokeToken: unused,
    audit: unused, account: unused, totpSetup: unused, totpEnable: unused, totpDisable: unused, logoutAll: unused, ...overrides,
  };
}

describe('access stores', () => {
  it('pages the audit log back and forth with keyset cursors, keeping the filters', async () => {
    // 7 entries, ids 7..1, pages of 3 newest first.
    const audit = vi.fn((q: AuditQueryInput) => {
      const before = typeof q.before === 'number' ? q.before : Infinity;
      const ids = [7, 6, 5, 4, 3, 2, 1].filter((id) => id < before).slice(0, 3);
      return Promise.resolve({ entries: ids.map(entry), nextBefore: ids.length === 3 && ids.at(-1) !== 1 ? (ids.at(-1) ?? null) : null });
    });
    const { audit: store } = createAccessStores(fakeApi({ audit }), () => undefined);
    await store.getState().search({ action: 'x' });
    expect(store.getState().entries.map((e) => e.id)).toEqual([7, 6, 5]);
    await store.getState().next();
    expect(store.getState().entries.map((e) => e.id)).toEqual([4, 3, 2]);
    await store.getState().next();
    expect(store.getState().entries.map((e) => e.id)).toEqual([1]);
    expect(store.getState().nextBefore).toBeNull();
    await store.getState().previous();
    expect(store.getState().entries.map((e) => e.id)).toEqual([4, 3, 2]);
    await store.getState().previous();
    expect(store.getState().entries.map((e) => e.id)).toEqual([7, 6, 5]);
    expect(audit.mock.calls.every(([q]) => q.action === 'x')).toBe(true);
  });

  it('keeps the users list and shows the stable code when a change is refused', async () => {
    const list: UserInfo[] = [{ id: 1, username: 'admin', role: 'admin', scope: null, totpEnabled: false, createdAt: 0 }];
    const stores = createAccessStores(fakeApi({
      users: () => Promise.resolve(list),
      updateUser: () => Promise.reject(new ApiError('LAST_ADMIN', 'no', 409)),
    }), () => undefined);
    await stores.users.getState().load();
    expect(await stores.users.getState().update(1, { role: 'viewer' })).toBe(false);
    expect(stores.users.getState().error?.code).toBe('LAST_ADMIN');
    expect(stores.users.getState().users).toEqual(list);
  });

  it('shows recovery codes once after enabling TOTP, and signs out after logging out everywhere', async () => {
    const signedOut = vi.fn();
    const stores = createAccessStores(fakeApi({
      totpSetup: () => Promise.resolve({ secret: 'S', otpauthUrl: 'otpauth://totp/x' }),
      totpEnable: () => Promise.resolve({ recoveryCodes: ['a', 'b'] }),
      account: () => Promise.resolve({ user: { id: 1, username: 'u', role: 'viewer', scope: null, totpEnabled: true, createdAt: 0 } }),
      logoutAll: () => Promise.resolve(),
    }), signedOut);
    await stores.account.getState().startTotp();
    expect(stores.account.getState().pending?.secret).toBe('S');
    await stores.account.getState().enableTotp('123456');
    expect(stores.account.getState()).toMatchObject({ pending: null, recoveryCodes: ['a', 'b'], account: { totpEnabled: true } });
    stores.account.getState().dismissRecoveryCodes();
    expect(stores.account.getState().recoveryCodes).toBeNull();
    await stores.account.getState().logoutEverywhere();
    expect(signedOut).toHaveBeenCalledOnce();
  });
});
