import type { RefObject } from 'react';
import { STATUS_FILTERS } from './fleet-query.js';
import { useFleetQuery, useFleetUiStore } from './fleet-ui-hooks.js';

/** Search box, status and tag filters, and the "N of M devices" count. */
export function FleetToolbar({ searchRef, shown, total, online }: { searchRef: RefObject<HTMLInputElement | null>; shown: number; total: number; online: number }) {
  const ui = useFleetUiStore();
  const query = useFleetQuery();
  return (
    <div className="fleet-toolbar" role="search">
      <input
        ref={searchRef}
        type="search"
        className="fleet-search"
        placeholder="Search name, id, tag, platform  ( / )"
        aria-label="Search devices"
        data-testid="fleet-search"
        value={query.text}
        onChange={(e) => ui.getState().setQuery({ text: e.target.value })}
      />
      <select aria-label="Status" data-testid="fleet-status-filter" value={query.status} onChange={(e) => ui.getState().setQuery({ status: STATUS_FILTERS.find((s) => s === e.target.value) ?? 'all' })}>
        {STATUS_FILTERS.map((status) => (
          <option key={status} value={status}>
            {status === 'all' ? 'All statuses' : status}
          </option>
        ))}
      </select>
      <input
        className="fleet-tag-filter"
        placeholder="tag k=v"
        aria-label="Filter by tag"
        data-testid="fleet-tag-filter"
        value={query.tag}
        onChange={(e) => ui.getState().setQuery({ tag: e.target.value })}
      />
      <p className="muted fleet-counts">
        <span data-testid="fleet-shown-count">{shown}</span> of <span data-testid="fleet-count">{total}</span> {total === 1 ? 'device' : 'devices'} ·{' '}
        <span data-testid="fleet-online-count">{online}</span> online
      </p>
    </div>
  );
}
