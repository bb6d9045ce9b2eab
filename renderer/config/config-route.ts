import { useSyncExternalStore } from 'react';

/**
 * `#/config` shows the configuration view for the fleet; `#/devices/<id>/config` the same view
 * opened on one device (its override layer and effective config). Anything else: not this view.
 * A hash survives reloads and needs no server routes.
 */
export const CONFIG_HASH = '#/config';
export const deviceConfigHash = (deviceId: string): string => `#/devices/${encodeURIComponent(deviceId)}/config`;

export type ConfigRoute = { deviceId: string | null } | null;

export function parseConfigRoute(hash: string): ConfigRoute {
  if (hash === CONFIG_HASH) return { deviceId: null };
  const device = /^#\/devices\/(dev_[a-z0-9]{20,40})\/config$/.exec(hash);
  return device?.[1] ? { deviceId: device[1] } : null;
}

function subscribe(onChange: () => void): () => void {
  window.addEventListener('hashchange', onChange);
  return () => window.removeEventListener('hashchange', onChange);
}

export function useConfigRoute(): ConfigRoute {
  // The server snapshot (tests render to a string): no location, so the default view.
  return parseConfigRoute(useSyncExternalStore(subscribe, () => window.location.hash, () => ''));
}
