import { createContext, useContext } from 'react';
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { AuditEntry, AuditQueryInput, DeviceScope, RegistrationToken, Role, TokenCreateRequest, TokenCreateResponse, UserInfo } from '../../protocol/index.js';
import { toUiError, type UiError } from '../api/ui-error.js';
import type { AccessApi } from './access-api.js';

export interface UsersState {
  users: UserInfo[];
  error: UiError | null;
  load(): Promise<void>;
  create(input: { username: string; password: string; role: Role; scope: DeviceScope }): Promise<boolean>;
  update(id: number, changes: { role?: Role; scope?: DeviceScope; password?: string }): Promise<boolean>;
  remove(id: number): Promise<boolean>;
}

export interface TokensState {
  tokens: RegistrationToken[];
  /** The token just created: its secret and install command are shown this once. */
  created: TokenCreateResponse | null;
  error: UiError | null;
  load(): Promise<void>;
  create(request: TokenCreateRequest): Promise<boolean>;
  revoke(id: string): Promise<void>;
  dismissCreated(): void;
}

export type AuditFilters = Pick<AuditQueryInput, 'actor' | 'action' | 'target' | 'since' | 'until'>;

export interface AuditState {
  filters: AuditFilters;
  entries: AuditEntry[];
  /** Keyset cursors of the pages before the current one (for Back) and of the next one. */
  cursors: Array<number | undefined>;
  nextBefore: number | null;
  error: UiError | null;
  search(filters: AuditFilters): Promise<void>;
  next(): Promise<void>;
  previous(): Promise<void>;
}

export interface AccountState {
  account: UserInfo | null;
  /** A TOTP secret waiting for its first code. */
  pending: { secret: string; otpauthUrl: string } | null;
  /** Shown once after enabling; cleared when dismissed. */
  recoveryCodes: string[] | null;
  error: UiError | null;
  load(): Promise<void>;
  startTotp(): Promise<void>;
  enableTotp(code: string): Promise<void>;
  disableTotp(code: string): Promise<void>;
  dismissRecoveryCodes(): void;
  logoutEverywhere(): Promise<void>;
}

export interface AccessStores {
  users: StoreApi<UsersState>;
  tokens: StoreApi<TokensState>;
  audit: StoreApi<AuditState>;
  account: StoreApi<AccountState>;
}

export const AUDIT_PAGE_SIZE = 50;

/** One small store per view; `onSignedOut` runs after "log out everywhere" ended this session too. */
export function createAccessStores(api: AccessApi, onSignedOut: () => void): AccessStores {
  const users = createStore<UsersState>()((set, get) => {
    const attempt = async (action: () => Promise<unknown>): Promise<boolean> => {
      try {
        await action();
        set({ error: null });
        await get().load();
        return true;
      } catch (error) {
        set({ error: toUiError(error) });
        return false;
      }
    };
    return {
      users: [],
      error: null,
      async load() {
        try {
          set({ users: await api.users() });
        } catch (error) {
          set({ error: toUiError(error) });
        }
      },
      create: (input) => attempt(() => api.createUser({ ...input, scope: input.scope })),
      update: (id, changes) => attempt(() => api.updateUser(id, changes)),
      remove: (id) => attempt(() => api.deleteUser(id)),
    };
  });

  const tokens = createStore<TokensState>()((set, get) => ({
    tokens: [],
    created: null,
    error: null,
    async load() {
      try {
        set({ tokens: await api.tokens() });
      } catch (error) {
        set({ error: toUiError(error) });
      }
    },
    async create(request) {
      try {
        set({ created: await api.createToken(request), error: null });
        await get().load();
        return true;
      } catch (error) {
        set({ error: toUiError(error) });
        return false;
      }
    },
    async revoke(id) {
      try {
        await api.revokeToken(id);
        await get().load();
      } catch (error) {
        set({ error: toUiError(error) });
      }
    },
    dismissCreated: () => set({ created: null }),
  }));

  const audit = createStore<AuditState>()((set, get) => {
    const fetchPage = async (filters: AuditFilters, before: number | undefined, cursors: Array<number | undefined>) => {
      try {
        const page = await api.audit({ ...filters, before, limit: AUDIT_PAGE_SIZE });
        set({ filters, entries: page.entries, nextBefore: page.nextBefore, cursors: [...cursors, before], error: null });
      } catch (error) {
        set({ error: toUiError(error) });
      }
    };
    return {
      filters: {},
      entries: [],
      cursors: [],
      nextBefore: null,
      error: null,
      search: (filters) => fetchPage(filters, undefined, []),
      async next() {
        const { nextBefore, filters, cursors } = get();
        if (nextBefore !== null) await fetchPage(filters, nextBefore, cursors);
      },
      async previous() {
        const { filters, cursors } = get();
        if (cursors.length < 2) return;
        await fetchPage(filters, cursors[cursors.length - 2], cursors.slice(0, -2));
      },
    };
  });

  const account = createStore<AccountState>()((set, get) => ({
    account: null,
    pending: null,
    recoveryCodes: null,
    error: null,
    async load() {
      try {
        set({ account: (await api.account()).user });
      } catch (error) {
        set({ error: toUiError(error) });
      }
    },
    async startTotp() {
      try {
        set({ pending: await api.totpSetup(), error: null });
      } catch (error) {
        set({ error: toUiError(error) });
      }
    },
    async enableTotp(code) {
      try {
        const { recoveryCodes } = await api.totpEnable(code);
        set({ recoveryCodes, pending: null, error: null });
        await get().load();
      } catch (error) {
        set({ error: toUiError(error) });
      }
    },
    async disableTotp(code) {
      try {
        await api.totpDisable(code);
        set({ error: null });
        await get().load();
      } catch (error) {
        set({ error: toUiError(error) });
      }
    },
    dismissRecoveryCodes: () => set({ recoveryCodes: null }),
    async logoutEverywhere() {
      try {
        await api.logoutAll();
        onSignedOut();
      } catch (error) {
        set({ error: toUiError(error) });
      }
    },
  }));

  return { users, tokens, audit, account };
}

export const AccessStoresContext = createContext<AccessStores | null>(null);

export function useAccessStores(): AccessStores {
  const stores = useContext(AccessStoresContext);
  if (stores === null) throw new Error('useAccessStores: render inside <AccessStoresContext value={…}>');
  return stores;
}
