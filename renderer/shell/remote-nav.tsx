import { JOBS_HASH, useRemoteRoute } from './shell-route.js';

/** The Jobs link in the top bar. */
export function RemoteNavLinks() {
  const route = useRemoteRoute();
  return (
    <nav className="top-nav" aria-label="Remote execution">
      <a href={JOBS_HASH} data-testid="nav-jobs" aria-current={route?.view === 'jobs' ? 'page' : undefined}>
        Jobs
      </a>
    </nav>
  );
}
