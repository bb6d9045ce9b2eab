import { useSyncExternalStore } from 'react';

/** Monitoring views by hash: `#/metrics/<deviceId>`, `#/logs` (the fleet's), `#/devices/<id>/logs` (one device's), `#/alerts`. */
export type MonitoringRoute = { view: 'metrics'; deviceId: string } | { view: 'logs'; deviceId: string | null } | { view: 'alerts' } | null;

export const deviceLogsHash = (deviceId: string): string => `#/devices/${encodeURIComponent(deviceId)}/logs`;

export function parseMonitoringHash(hash: string): MonitoringRoute {
  const metrics = /^#\/metrics\/(dev_[a-z0-9]{20,40})$/.exec(hash);
  if (metrics?.[1]) return { view: 'metrics', deviceId: metrics[1] };
  if (hash === '#/logs') return { view: 'logs', deviceId: null };
  const logs = /^#\/devices\/(dev_[a-z0-9]{20,40})\/logs$/.exec(hash);
  if (logs?.[1]) return { view: 'logs', deviceId: logs[1] };
  if (hash === '#/alerts') return { view: 'alerts' };
  return null;
}

function subscribe(onChange: () => void): () => void {
  window.addEventListener('hashchange', onChange);
  return () => window.removeEventListener('hashchange', onChange);
}

export function useMonitoringHash(): string {
  return useSyncExternalStore(subscribe, () => window.location.hash, () => '');
}
