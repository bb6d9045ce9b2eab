import { useSyncExternalStore } from 'react';

/** Hash routes of the users-and-access views: `#/users`, `#/tokens`, `#/audit`, `#/account`. */
export type AccessRoute = 'users' | 'tokens' | 'audit' | 'account';

const ROUTES: Record<string, AccessRoute> = { '#/users': 'users', '#/tokens': 'tokens', '#/audit': 'audit', '#/account': 'account' };
export const accessHash = (route: AccessRoute): string => `#/${route}`;

export function parseAccessRoute(hash: string): AccessRoute | null {
  return ROUTES[hash] ?? null;
}

function subscribe(onChange: () => void): () => void {
  window.addEventListener('hashchange', onChange);
  return () => window.removeEventListener('hashchange', onChange);
}

export function useAccessRoute(): AccessRoute | null {
  return parseAccessRoute(useSyncExternalStore(subscribe, () => window.location.hash, () => ''));
}
