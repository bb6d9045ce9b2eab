import { useStore } from 'zustand';
import type { AccountState, AuditState, TokensState, UsersState } from './access-stores.js';
import { useAccessStores } from './access-stores.js';

/** Selector hooks: components read the access stores only through these. */
export const useUsers = <T,>(select: (s: UsersState) => T): T => useStore(useAccessStores().users, select);
export const useTokens = <T,>(select: (s: TokensState) => T): T => useStore(useAccessStores().tokens, select);
export const useAudit = <T,>(select: (s: AuditState) => T): T => useStore(useAccessStores().audit, select);
export const useAccount = <T,>(select: (s: AccountState) => T): T => useStore(useAccessStores().account, select);
