import { useSyncExternalStore } from 'react';

/** `#/devices/<id>/files` opens the device's file browser. A hash survives reloads and needs no server routes. */
export const filesHash = (deviceId: string): string => `#/devices/${encodeURIComponent(deviceId)}/files`;

export type FilesRoute = { deviceId: string } | null;

export function parseFilesRoute(hash: string): FilesRoute {
  const m = /^#\/devices\/(dev_[a-z0-9]{20,40})\/files$/.exec(hash);
  return m?.[1] ? { deviceId: m[1] } : null;
}

function subscribe(onChange: () => void): () => void {
  window.addEventListener('hashchange', onChange);
  return () => window.removeEventListener('hashchange', onChange);
}

export function useFilesRoute(): FilesRoute {
  return parseFilesRoute(useSyncExternalStore(subscribe, () => window.location.hash, () => ''));
}
