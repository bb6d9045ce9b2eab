import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { StoredLogLine } from '../../protocol/index.js';
import { toUiError, type UiError } from '../api/ui-error.js';
import { useAppStores } from '../app/app-stores.js';
import { deviceConfigHash } from '../config/config-route.js';
import { DeviceLinks } from '../fleet/device-links.js';
import { useDevice } from '../fleet/fleet-hooks.js';
import { useMonitoring } from '../metrics/monitoring-context.js';

/** Lines the live tail keeps on screen; older ones are removed from the DOM. */
const TAIL_MAX = 500;

type NameOf = (deviceId: string) => string;

function lineElement(line: StoredLogLine, deviceName: string | null): HTMLLIElement {
  const li = document.createElement('li');
  li.className = `log-line log-${line.level}`;
  li.dataset.testid = 'log-tail-line';
  const time = `${new Date(line.ts).toLocaleTimeString()} ${line.level.padEnd(8)} `;
  if (deviceName === null) {
    li.textContent = `${time}${line.source}: ${line.message}`;
    return li;
  }
  const device = document.createElement('span');
  device.className = 'log-device';
  device.dataset.testid = 'log-device';
  device.title = line.deviceId;
  device.textContent = deviceName;
  li.append(time, device, ` ${line.source}: ${line.message}`);
  return li;
}

/**
 * Log search (FTS5 on the backend) and a live tail, for the fleet (each line names its device) or
 * for one device. The tail appends DOM nodes directly: a busy device can log hundreds of lines a
 * second, which must not re-render React.
 */
export function LogView({ deviceId = null }: { deviceId?: string | null }) {
  const { api, feed, live } = useMonitoring();
  const fleet = useAppStores().fleet;
  const device = useDevice(deviceId ?? '');
  const tail = useRef<HTMLOListElement>(null);
  const [query, setQuery] = useState('');
  const [results, setResults] = useState<StoredLogLine[] | null>(null);
  const [error, setError] = useState<UiError | null>(null);
  /** One device: whether it has sent any line at all (none: it has no log sources yet). */
  const [hasLines, setHasLines] = useState<boolean | null>(null);
  const nameOf: NameOf = (id) => fleet.getState().byId.get(id)?.name ?? id;

  useEffect(() => live.logs(deviceId ?? undefined), [live, deviceId]);
  useEffect(
    () =>
      feed.subscribe((message) => {
        const list = tail.current;
        if (message.type !== 'logs.lines' || list === null) return;
        for (const line of message.lines) {
          if (deviceId !== null && line.deviceId !== deviceId) continue;
          list.append(lineElement(line, deviceId === null ? fleet.getState().byId.get(line.deviceId)?.name ?? line.deviceId : null));
          setHasLines(true);
        }
        while (list.childElementCount > TAIL_MAX) list.firstElementChild?.remove();
      }),
    [feed, deviceId, fleet],
  );
  useEffect(() => {
    if (deviceId === null) return;
    let cancelled = false;
    api.searchLogs({ deviceId, limit: 1 }).then(
      (lines) => !cancelled && setHasLines((had) => had === true || lines.length > 0),
      () => undefined,
    );
    return () => {
      cancelled = true;
    };
  }, [api, deviceId]);

  const search = (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    api.searchLogs({ q: query.trim() === '' ? undefined : query, deviceId: deviceId ?? undefined, limit: 200 }).then(setResults, (err: unknown) => setError(toUiError(err)));
  };

  return (
    <section className="logs" data-testid="log-view" data-device-id={deviceId ?? undefined}>
      {deviceId === null ? (
        <h2>Logs</h2>
      ) : (
        <h2 className="crumbs">
          <a href="#/logs">Logs</a> ›{' '}
          <span className="ellipsis" title={device?.name ?? deviceId} data-testid="log-device-name">
            {device?.name ?? deviceId}
          </span>
        </h2>
      )}
      {deviceId !== null && <DeviceLinks deviceId={deviceId} current="logs" />}
      {deviceId !== null && hasLines === false && (
        <div className="empty-state" data-testid="logs-no-sources">
          <p>
            <strong>No log lines from this device yet.</strong> The agent forwards the files and journald units listed in its <code>logSources</code> setting (the <code>agent</code> namespace of the configuration).
          </p>
          <p>
            Add them in <a href={deviceConfigHash(deviceId)}>this device&apos;s configuration</a> (or a group or the fleet layer), for example <code>{'{ "agent": { "logSources": ["/var/log/syslog"] } }'}</code>; lines appear here as the agent sends them.
          </p>
        </div>
      )}
      <form onSubmit={search} className="log-search">
        <input data-testid="log-search-input" value={query} onChange={(e) => setQuery(e.target.value)} placeholder="Search words in messages and sources" aria-label="Search logs" />
        <button type="submit" data-testid="log-search-submit">
          Search
        </button>
      </form>
      {error !== null && (
        <p className="banner" role="alert" data-code={error.code}>
          {error.message}
        </p>
      )}
      {results !== null && (
        <ol className="log-results" data-testid="log-results" data-count={results.length}>
          {results.map((line) => (
            <li key={line.id} className={`log-line log-${line.level}`} data-testid="log-result">
              {new Date(line.ts).toLocaleString()} {line.level}{' '}
              {deviceId === null && (
                <span className="log-device" data-testid="log-device" title={line.deviceId}>
                  {nameOf(line.deviceId)}
                </span>
              )}{' '}
              {line.source}: {line.message}
            </li>
          ))}
          {results.length === 0 && <li className="muted">No matching lines.</li>}
        </ol>
      )}
      <h3>Live tail</h3>
      <ol className="log-tail" ref={tail} data-testid="log-tail" />
    </section>
  );
}
