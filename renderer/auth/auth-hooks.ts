import { useStore } from 'zustand';
import type { User } from '../../protocol/index.js';
import type { UiError } from '../api/ui-error.js';
import { useAppStores } from '../app/app-stores.js';
import type { AuthPhase, AuthState } from './auth-store.js';

export const useAuthPhase = (): AuthPhase => useStore(useAppStores().auth, (s) => s.phase);
export const useCurrentUser = (): User | null => useStore(useAppStores().auth, (s) => s.user);
export const useLoginError = (): UiError | null => useStore(useAppStores().auth, (s) => s.error);
export const useLogin = (): AuthState['login'] => useStore(useAppStores().auth, (s) => s.login);
export const useLogout = (): AuthState['logout'] => useStore(useAppStores().auth, (s) => s.logout);
