import { useMonitoringHash } from '../metrics/monitoring-route.js';
import { CONFIG_HASH, parseConfigRoute } from './config-route.js';

/** Fleet / Configuration links in the top bar; Fleet is current only on the fleet itself, not on every other view. */
export function ConfigNavLinks() {
  const hash = useMonitoringHash();
  const onFleet = hash === '' || hash === '#' || hash === '#/';
  return (
    <nav className="top-nav" aria-label="Views">
      <a href="#/" data-testid="nav-fleet" aria-current={onFleet ? 'page' : undefined}>
        Fleet
      </a>
      <a href={CONFIG_HASH} data-testid="nav-config" aria-current={parseConfigRoute(hash)?.deviceId === null ? 'page' : undefined}>
        Configuration
      </a>
    </nav>
  );
}
