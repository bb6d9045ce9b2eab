import { deviceConfigHash } from '../config/config-route.js';
import { deviceLogsHash } from '../metrics/monitoring-route.js';
import { filesHash } from '../files/files-route.js';
import { shellHash } from '../shell/shell-route.js';

type DeviceView = 'metrics' | 'shell' | 'files' | 'logs' | 'config';

const VIEWS: Array<[DeviceView, string, (id: string) => string]> = [
  ['metrics', 'Metrics', (id) => `#/metrics/${encodeURIComponent(id)}`],
  ['shell', 'Shell', shellHash],
  ['files', 'Files', filesHash],
  ['logs', 'Logs', deviceLogsHash],
  ['config', 'Config', deviceConfigHash],
];

/** A device page's links to its other views: each opens this device's view, never the fleet-wide one. */
export function DeviceLinks({ deviceId, current }: { deviceId: string; current: DeviceView }) {
  return (
    <nav className="device-links" aria-label="This device's views" data-testid="device-links">
      {VIEWS.map(([view, label, hash]) => (
        <a key={view} href={hash(deviceId)} aria-current={view === current ? 'page' : undefined} data-testid={`device-link-${view}`}>
          {label}
        </a>
      ))}
    </nav>
  );
}
