import { escapeControlCharacters as visible } from '../../protocol/index.js';
import { useCurrentUser } from '../auth/auth-hooks.js';
import { deviceConfigHash } from '../config/config-route.js';
import { filesHash } from '../files/files-route.js';
import { deviceLogsHash } from '../metrics/monitoring-route.js';
import { preloadShellView, shellHash } from '../shell/shell-route.js';
import { useLastSeen } from '../time/time-hooks.js';
import type { DevicesApi } from './devices-api.js';
import { useDevice } from './fleet-hooks.js';
import { describePlatform } from './fleet-query.js';
import { useFleetUiStore } from './fleet-ui-hooks.js';
import { TagEditor } from './tag-editor.js';
import { TagList } from './device-row.js';
import { RelayLauncher } from './relay-launcher.js';
import { DesktopForwards } from './desktop-forwards.js';

/** The side panel for one device: status, facts, tags (editable) and links to its other views. */
export function DeviceDetails({ id, api }: { id: string; api: DevicesApi }) {
  const device = useDevice(id);
  const ui = useFleetUiStore();
  const lastSeen = useLastSeen(device?.online ?? false, device?.lastSeen ?? null);
  const canEdit = useCurrentUser()?.role !== 'viewer';
  if (device === undefined) return null;
  const facts = device.facts;
  return (
    <aside className="device-details" data-testid="device-details" data-device-id={device.id} aria-label={`Device ${visible(device.name)}`}>
      <header>
        <h3 data-testid="details-name" title={visible(device.name)}>
          {visible(device.name)}
        </h3>
        <button type="button" className="link" aria-label="Close" data-testid="details-close" onClick={() => ui.getState().openDetails(null)}>
          ×
        </button>
      </header>
      <dl className="facts">
        <dt>Status</dt>
        <dd data-testid="details-status">
          {device.online ? 'online' : 'offline'}
          {device.status !== 'active' && ` · ${device.status}`}
        </dd>
        <dt>Last seen</dt>
        <dd data-testid="details-last-seen">{device.online || device.lastSeen === null ? lastSeen : `last seen ${lastSeen}`}</dd>
        <dt>Id</dt>
        <dd className="mono">{device.id}</dd>
        <dt>Platform</dt>
        <dd>{describePlatform(device)}</dd>
        {facts !== null && (
          <>
            <dt>Host</dt>
            <dd>{visible(facts.hostname)}</dd>
            <dt>Release</dt>
            <dd>{visible(facts.release)}</dd>
            <dt>Hardware</dt>
            <dd>{`${facts.cpus} CPUs · ${(facts.memoryBytes / 2 ** 30).toFixed(1)} GiB`}</dd>
          </>
        )}
        <dt>Enrolled</dt>
        <dd>{new Date(device.createdAt).toLocaleString()}</dd>
      </dl>
      <h4>Tags</h4>
      {canEdit ? <TagEditor ids={[device.id]} tags={device.tags} api={api} testId="details-tags" /> : <TagList tags={device.tags} />}
      <nav className="details-links" aria-label="Device views">
        <a href={`#/metrics/${device.id}`} data-testid="details-metrics">
          Metrics
        </a>
        <a href={shellHash(device.id)} onPointerEnter={preloadShellView} onFocus={preloadShellView} data-testid="details-shell">
          Shell and commands
        </a>
        <a href={filesHash(device.id)} data-testid="details-files">
          Files
        </a>
        <a href={deviceConfigHash(device.id)} data-testid="details-config">
          Config
        </a>
        <a href={deviceLogsHash(device.id)} data-testid="details-logs">
          Logs
        </a>
      </nav>
      {canEdit && device.online && <RelayLauncher deviceId={device.id} api={api} />}
      {canEdit && <DesktopForwards deviceId={device.id} />}
    </aside>
  );
}
