import { memo } from 'react';
import type { Device } from '../../protocol/index.js';
import { useRelativeTime } from '../time/time-hooks.js';
import { DeviceGauges } from '../metrics/fleet-gauges.js';
import { shellHash } from '../shell/shell-route.js';
import { useDevice } from './fleet-hooks.js';

/** One device. Subscribes to its own entry, so a status event re-renders this row alone. */
export const DeviceRow = memo(function DeviceRow({ id }: { id: string }) {
  const device = useDevice(id);
  const lastSeen = useRelativeTime(device?.lastSeen ?? null);
  if (device === undefined) return null;
  const presence = device.online ? 'online' : 'offline';
  return (
    <tr data-testid="device-row" data-device-id={device.id} data-online={String(device.online)} data-status={device.status}>
      <td className="device-name" title={device.id}>
        <span data-testid="device-name">{device.name}</span>
        {device.online && (
          <>
            {' '}
            <a href={shellHash(device.id)} className="device-terminal-link" data-testid="device-terminal" title="Open a terminal">
              ⌨
            </a>
          </>
        )}
      </td>
      <td data-testid="device-status" className={`presence presence-${presence}`}>
        {presence}
      </td>
      <td data-testid="device-enrolment">
        {device.status !== 'active' && <span className={`badge badge-${device.status}`}>{device.status}</span>}
      </td>
      <td data-testid="device-last-seen" title={device.lastSeen === null ? undefined : new Date(device.lastSeen).toLocaleString()}>
        {lastSeen}
      </td>
      <td className="muted">{describePlatform(device)}</td>
      <td>
        <Tags tags={device.tags} />
      </td>
      <DeviceGauges id={device.id} />
    </tr>
  );
});

function describePlatform({ facts }: Device): string {
  return facts === null ? '—' : `${facts.platform} ${facts.arch} · agent ${facts.agentVersion}`;
}

function Tags({ tags }: { tags: Device['tags'] }) {
  const entries = Object.entries(tags);
  if (entries.length === 0) return null;
  return (
    <ul className="tags">
      {entries.map(([key, value]) => (
        <li key={key} className="tag">
          {value === '' ? key : `${key}=${value}`}
        </li>
      ))}
    </ul>
  );
}
