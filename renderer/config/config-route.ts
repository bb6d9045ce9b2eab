import { useSyncExternalStore } from 'react';

/** `#/config` shows the configuration view; anything else the fleet. A hash survives reloads and needs no server routes. */
export const CONFIG_HASH = '#/config';

function subscribe(onChange: () => void): () => void {
  window.addEventListener('hashchange', onChange);
  return () => window.removeEventListener('hashchange', onChange);
}

export function useConfigRoute(): boolean {
  // The server snapshot (tests render to a string): no location, so the default view.
  return useSyncExternalStore(subscribe, () => window.location.hash === CONFIG_HASH, () => false);
}
