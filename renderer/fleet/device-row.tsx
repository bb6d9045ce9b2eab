import { memo, useState, type CSSProperties, type MouseEvent } from 'react';
import { escapeControlCharacters as visible, type Device } from '../../protocol/index.js';
import { useLastSeen } from '../time/time-hooks.js';
import { DeviceGauges, type GaugeValues } from '../metrics/fleet-gauges.js';
import { preloadShellView, shellHash } from '../shell/shell-route.js';
import { useDevice } from './fleet-hooks.js';
import { describePlatform } from './fleet-query.js';
import { useFleetUiStore, useIsCursor, useIsSelected } from './fleet-ui-hooks.js';

export interface DeviceRowProps {
  id: string;
  /** Absolute position inside the virtual list. */
  style: CSSProperties;
  /** The shown order, for shift-click ranges. */
  shown: { readonly current: readonly string[] };
  gauges: GaugeValues;
}

/**
 * One device. Subscribes to its own entry and its own selected/cursor flags, so a status event or a
 * checkbox re-renders this row alone.
 */
export const DeviceRow = memo(function DeviceRow({ id, style, shown, gauges }: DeviceRowProps) {
  const device = useDevice(id);
  const selected = useIsSelected(id);
  const cursor = useIsCursor(id);
  const ui = useFleetUiStore();
  if (device === undefined) return null;
  const presence = device.online ? 'online' : 'offline';

  const onRowClick = (event: MouseEvent<HTMLDivElement>): void => {
    // Links and the checkbox do their own thing.
    if ((event.target as HTMLElement).closest('a, input, button') !== null) return;
    if (event.shiftKey) return ui.getState().selectRange(id, shown.current);
    ui.getState().openDetails(id);
  };
  const onCheck = (event: MouseEvent<HTMLInputElement>): void => {
    if (event.shiftKey) ui.getState().selectRange(id, shown.current);
    else ui.getState().toggle(id);
  };

  return (
    <div
      role="row"
      className={`fleet-row${selected ? ' is-selected' : ''}${cursor ? ' is-cursor' : ''}`}
      style={style}
      aria-selected={selected}
      data-testid="device-row"
      data-device-id={device.id}
      data-online={String(device.online)}
      data-status={device.status}
      data-cursor={cursor ? 'true' : undefined}
      onClick={onRowClick}
    >
      <div role="cell" className="check">
        {/* onChange would not see the shift key; the click handler does the work. */}
        <input type="checkbox" data-testid="device-select" aria-label={`Select ${visible(device.name)}`} checked={selected} onClick={onCheck} onChange={() => undefined} />
      </div>
      <div role="cell" className="device-name" title={`${visible(device.name)}\n${device.id}`}>
        <span data-testid="device-name">{visible(device.name)}</span>
        {device.online && (
          <>
            {' '}
            <a href={shellHash(device.id)} onPointerEnter={preloadShellView} onFocus={preloadShellView} className="device-terminal-link" data-testid="device-terminal" title="Open a terminal">
              ⌨
            </a>
          </>
        )}
      </div>
      <div role="cell" data-testid="device-status" className={`presence presence-${presence}`}>
        {presence}
      </div>
      <div role="cell" data-testid="device-enrolment">
        {device.status !== 'active' && <span className={`badge badge-${device.status}`}>{device.status}</span>}
      </div>
      <LastSeenCell lastSeen={device.lastSeen} online={device.online} />
      <div role="cell" className="muted ellipsis">
        {describePlatform(device)}
      </div>
      <div role="cell" className="ellipsis" data-testid="device-tags">
        <TagList tags={device.tags} />
      </div>
      <DeviceGauges id={device.id} latest={gauges} />
    </div>
  );
});

/**
 * "online", or "12 s ago" for a device offline, with the exact time as a tooltip. The tooltip's text is made on the first hover:
 * a page's first `toLocaleString` loads the locale's date data (~40 ms), too much to spend on
 * the first screen for text nobody may look at.
 */
function LastSeenCell({ lastSeen, online }: { lastSeen: number | null; online: boolean }) {
  const text = useLastSeen(online, lastSeen);
  const [hovered, setHovered] = useState(false);
  return (
    <div role="cell" data-testid="device-last-seen" title={hovered && lastSeen !== null ? new Date(lastSeen).toLocaleString() : undefined} onPointerEnter={() => setHovered(true)}>
      {text}
    </div>
  );
}

export function TagList({ tags }: { tags: Device['tags'] }) {
  const entries = Object.entries(tags);
  if (entries.length === 0) return null;
  return (
    <ul className="tags">
      {entries.map(([key, value]) => (
        <li key={key} className="tag" data-testid="device-tag">
          {visible(value === '' ? key : `${key}=${value}`)}
        </li>
      ))}
    </ul>
  );
}
