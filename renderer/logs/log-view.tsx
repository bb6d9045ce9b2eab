import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { StoredLogLine } from '../../protocol/index.js';
import { useMonitoring } from '../metrics/monitoring-context.js';

/** Lines the live tail keeps on screen; older ones are removed from the DOM. */
const TAIL_MAX = 500;

function lineElement(line: StoredLogLine): HTMLLIElement {
  const li = document.createElement('li');
  li.className = `log-line log-${line.level}`;
  li.dataset.testid = 'log-tail-line';
  li.textContent = `${new Date(line.ts).toLocaleTimeString()} ${line.level.padEnd(8)} ${line.source}: ${line.message}`;
  return li;
}

/**
 * Log search (FTS5 on the backend) and a live tail. The tail appends DOM nodes directly: a
 * busy device can log hundreds of lines a second, which must not re-render React.
 */
export function LogView() {
  const { api, feed, live } = useMonitoring();
  const tail = useRef<HTMLOListElement>(null);
  const [query, setQuery] = useState('');
  const [results, setResults] = useState<StoredLogLine[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => live.logs(), [live]);
  useEffect(
    () =>
      feed.subscribe((message) => {
        const list = tail.current;
        if (message.type !== 'logs.lines' || list === null) return;
        for (const line of message.lines) list.append(lineElement(line));
        while (list.childElementCount > TAIL_MAX) list.firstElementChild?.remove();
      }),
    [feed],
  );

  const search = (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    api.searchLogs({ q: query.trim() === '' ? undefined : query, limit: 200 }).then(setResults, (err: unknown) => setError(err instanceof Error ? err.message : String(err)));
  };

  return (
    <section className="logs" data-testid="log-view">
      <h2>Logs</h2>
      <form onSubmit={search} className="log-search">
        <input data-testid="log-search-input" value={query} onChange={(e) => setQuery(e.target.value)} placeholder="Search words in messages and sources" aria-label="Search logs" />
        <button type="submit" data-testid="log-search-submit">
          Search
        </button>
      </form>
      {error !== null && <p className="banner" role="alert">{error}</p>}
      {results !== null && (
        <ol className="log-results" data-testid="log-results" data-count={results.length}>
          {results.map((line) => (
            <li key={line.id} className={`log-line log-${line.level}`} data-testid="log-result">
              {new Date(line.ts).toLocaleString()} {line.level} {line.source}: {line.message}
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
