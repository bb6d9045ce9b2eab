import { missingCase } from '../../protocol/index.js';
import { AlertsView } from '../alerts/alerts-view.js';
import { LogView } from '../logs/log-view.js';
import { DeviceMetricsView } from './device-metrics-view.js';
import type { MonitoringRoute } from './monitoring-route.js';

/** The view for a monitoring route. */
export function MonitoringView({ route }: { route: NonNullable<MonitoringRoute> }) {
  switch (route.view) {
    case 'metrics':
      return <DeviceMetricsView deviceId={route.deviceId} />;
    case 'logs':
      return <LogView key={route.deviceId ?? 'fleet'} deviceId={route.deviceId} />;
    case 'alerts':
      return <AlertsView />;
    default:
      return missingCase(route);
  }
}
