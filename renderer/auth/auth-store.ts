import { createStore, type StoreApi } from 'zustand/vanilla';
import { ERRORS, LoginRequest, type User } from '../../protocol/index.js';
import type { ApiClient } from '../api/api-client.js';
import { toUiError, type UiError } from '../api/ui-error.js';

/**
 * `restoring`: asking the backend whether the cookie still holds a session (at start-up).
 * `signing-in`: a login request is in flight.
 */
export type AuthPhase = 'restoring' | 'signed-out' | 'signing-in' | 'signed-in';

export interface AuthState {
  phase: AuthPhase;
  user: User | null;
  /** Shown on the login screen; cleared when a new attempt starts. */
  error: UiError | null;
  /** Resumes the session the cookie holds, or lands on the login screen. */
  restore(): Promise<void>;
  /** With TOTP on, the first attempt fails with TOTP_REQUIRED and the form asks for `totp` or `recoveryCode`. */
  login(credentials: { username: string; password: string; totp?: string; recoveryCode?: string }): Promise<void>;
  /** Ends the session on the backend; the UI signs out even if that request fails. */
  logout(): Promise<void>;
  /** The backend ended the session (console socket closed with 4401). */
  sessionEnded(): void;
}

export type AuthStore = StoreApi<AuthState>;

export interface AuthStoreDeps {
  api: Pick<ApiClient, 'login' | 'logout' | 'me'>;
}

export function createAuthStore({ api }: AuthStoreDeps): AuthStore {
  return createStore<AuthState>()((set, get) => ({
    phase: 'restoring',
    user: null,
    error: null,

    async restore() {
      set({ phase: 'restoring', error: null });
      try {
        const user = await api.me();
        if (get().phase === 'restoring') set({ phase: 'signed-in', user });
      } catch (error) {
        const uiError = toUiError(error);
        // No session is the ordinary case at start-up, not something to show as an error.
        const quiet = uiError.code === 'SESSION_INVALID' || uiError.code === 'UNAUTHORIZED';
        if (get().phase === 'restoring') set({ phase: 'signed-out', user: null, error: quiet ? null : uiError });
      }
    },

    async login(credentials) {
      if (get().phase === 'signing-in') return;
      const request = LoginRequest.safeParse(credentials);
      if (!request.success) {
        set({ phase: 'signed-out', error: { code: 'BAD_REQUEST', message: 'Enter a valid username and password' } });
        return;
      }
      set({ phase: 'signing-in', error: null });
      try {
        const { user } = await api.login(request.data);
        set({ phase: 'signed-in', user, error: null });
      } catch (error) {
        set({ phase: 'signed-out', user: null, error: toUiError(error) });
      }
    },

    async logout() {
      if (get().user === null) return;
      set({ phase: 'signed-out', user: null, error: null });
      try {
        await api.logout();
      } catch (error) {
        // The cookie may outlive a failed logout; the next /auth/me tells. Nothing to show here.
        console.warn('logout request failed', error);
      }
    },

    sessionEnded() {
      if (get().user === null) return;
      set({ phase: 'signed-out', user: null, error: { code: 'SESSION_INVALID', message: ERRORS.SESSION_INVALID.message } });
    },
  }));
}
