import { useMonitoringHash } from './monitoring-route.js';

/** Logs / Alerts links in the top bar. */
export function MonitoringNavLinks() {
  const hash = useMonitoringHash();
  return (
    <nav className="top-nav" aria-label="Monitoring">
      <a href="#/logs" data-testid="nav-logs" aria-current={hash === '#/logs' ? 'page' : undefined}>
        Logs
      </a>
      <a href="#/alerts" data-testid="nav-alerts" aria-current={hash === '#/alerts' ? 'page' : undefined}>
        Alerts
      </a>
    </nav>
  );
}
