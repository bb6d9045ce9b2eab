import { useSyncExternalStore } from 'react';

/** `#/devices/<id>/shell` opens the device's terminals; `#/jobs` the jobs view. Hash routes need no server routes. */
export type RemoteRoute = { view: 'shell'; deviceId: string } | { view: 'jobs'; jobId?: string } | null;

export const JOBS_HASH = '#/jobs';
/** One job opened in the jobs view (the fleet's bulk "run a command" lands here). */
export const jobHash = (jobId: string): string => `${JOBS_HASH}/${encodeURIComponent(jobId)}`;
export const shellHash = (deviceId: string): string => `#/devices/${encodeURIComponent(deviceId)}/shell`;

let shellView: Promise<typeof import('./shell-view.js')> | null = null;
/** The terminal view's chunk (xterm), loaded once: on the route, or earlier when a link to it is pointed at or focused. */
export function loadShellView(): Promise<typeof import('./shell-view.js')> {
  shellView ??= import('./shell-view.js').catch((error: unknown) => {
    // A failed load (a dropped connection on hover) is tried again on the next one.
    shellView = null;
    throw error;
  });
  return shellView;
}

export function parseRemoteRoute(hash: string): RemoteRoute {
  if (hash === JOBS_HASH) return { view: 'jobs' };
  const job = /^#\/jobs\/([0-9a-f-]{36})$/.exec(hash);
  if (job?.[1]) return { view: 'jobs', jobId: job[1] };
  const m = /^#\/devices\/(dev_[a-z0-9]{20,40})\/shell$/.exec(hash);
  return m?.[1] ? { view: 'shell', deviceId: m[1] } : null;
}

function subscribe(onChange: () => void): () => void {
  window.addEventListener('hashchange', onChange);
  return () => window.removeEventListener('hashchange', onChange);
}

/** The route as a string snapshot (stable for useSyncExternalStore), parsed by the caller. */
export function useRemoteRoute(): RemoteRoute {
  const hash = useSyncExternalStore(subscribe, () => window.location.hash, () => '');
  return parseRemoteRoute(hash);
}

/** For a link's onPointerEnter/onFocus: a click usually follows within the time the chunk takes to load. */
export function preloadShellView(): void {
  void loadShellView();
}
