import { observeElementRect, useVirtualizer, type Rect, type Virtualizer } from '@tanstack/react-virtual';
import { useEffect, useRef, useState } from 'react';
import { useStore } from 'zustand';
import { GAUGE_METRICS, useFleetGauges } from '../metrics/fleet-gauges.js';
import { createJobsApi } from '../jobs/jobs-api.js';
import { BulkActions } from './bulk-actions.js';
import { DeviceDetails } from './device-details.js';
import { DeviceRow } from './device-row.js';
import { createDevicesApi, type DevicesApi } from './devices-api.js';
import { useDeviceCount, useFleetLoadError, useFleetLoading, useOnlineCount } from './fleet-hooks.js';
import type { SortKey } from './fleet-query.js';
import { shortcutOf } from './fleet-shortcuts.js';
import { FleetToolbar } from './fleet-toolbar.js';
import { FleetUiContext, useDetailsId, useFleetSort, useFleetUiStore, useHelpOpen } from './fleet-ui-hooks.js';
import { createFleetUiStore, type FleetUiStore } from './fleet-ui-store.js';
import { ROW_HEIGHT } from './fleet-pages.js';
import { ShortcutHelp } from './shortcut-help.js';
import { scrollScroller } from './table-scroll.js';
import { useVisibleIds } from './visible-ids.js';
import './fleet.css';

const COLUMNS: ReadonlyArray<{ label: string; sort?: SortKey }> = [
  { label: 'Name', sort: 'name' },
  { label: 'Status', sort: 'status' },
  { label: 'Enrolment', sort: 'enrolment' },
  { label: 'Last seen', sort: 'lastSeen' },
  { label: 'Platform', sort: 'platform' },
  { label: 'Tags' },
  ...GAUGE_METRICS.map((g) => ({ label: g.label })),
  { label: '' },
];

/** Where the view's API clients come from; tests pass fakes. */
export interface FleetViewServices {
  devicesApi: DevicesApi;
  jobsApi: ReturnType<typeof createJobsApi>;
}

export function FleetView({ services }: { services?: FleetViewServices } = {}) {
  const [ui] = useState<FleetUiStore>(createFleetUiStore);
  const [apis] = useState<FleetViewServices>(() => services ?? { devicesApi: createDevicesApi(), jobsApi: createJobsApi() });
  return (
    <FleetUiContext value={ui}>
      <FleetScreen ui={ui} apis={apis} />
    </FleetUiContext>
  );
}

function FleetScreen({ ui, apis }: { ui: FleetUiStore; apis: FleetViewServices }) {
  const shown = useVisibleIds(ui);
  const shownRef = useRef(shown);
  shownRef.current = shown;
  const total = useDeviceCount();
  const online = useOnlineCount();
  const loading = useFleetLoading();
  const loadError = useFleetLoadError();
  const detailsId = useDetailsId();
  const helpOpen = useHelpOpen();
  const gauges = useFleetGauges();
  const searchRef = useRef<HTMLInputElement>(null);
  const scrollRef = useRef<HTMLDivElement>(null);

  const virtualizer = useVirtualizer({
    count: shown.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 8,
    // Rows render in the first commit (and in server-rendered tests) before the scroller is measured.
    initialRect: { width: 1200, height: 800 },
    observeElementRect: observeScrollerRect,
    scrollToFn: scrollScroller,
  });

  useFleetShortcuts(ui, shownRef, searchRef, (index) => virtualizer.scrollToIndex(index, { align: 'auto' }));

  return (
    <section className="fleet" aria-labelledby="fleet-heading">
      <div className="fleet-summary">
        <h2 id="fleet-heading">Fleet</h2>
        <FleetToolbar searchRef={searchRef} shown={shown.length} total={total} online={online} />
      </div>
      {loadError !== null && (
        <p className="banner" role="alert" data-testid="fleet-error" data-code={loadError.code}>
          Could not load the device list: {loadError.message}
        </p>
      )}
      <BulkActions devicesApi={apis.devicesApi} jobsApi={apis.jobsApi} />
      <div className="fleet-body">
        <div className="fleet-table" role="table" aria-rowcount={shown.length} data-testid="fleet-table" aria-busy={loading} ref={scrollRef}>
          <FleetHeader shownRef={shownRef} />
          <div role="rowgroup" className="fleet-rows" style={{ height: virtualizer.getTotalSize() }}>
            {virtualizer.getVirtualItems().map((item) => {
              const id = shown[item.index];
              return id === undefined ? null : (
                <DeviceRow key={id} id={id} shown={shownRef} gauges={gauges} style={{ transform: `translateY(${item.start}px)`, height: ROW_HEIGHT }} />
              );
            })}
          </div>
          {shown.length === 0 && (
            <p className="fleet-empty" data-testid="fleet-empty">
              {loading ? 'Loading devices…' : total === 0 ? 'No devices enrolled yet.' : 'No device matches the search.'}
            </p>
          )}
        </div>
        {detailsId !== null && <DeviceDetails key={detailsId} id={detailsId} api={apis.devicesApi} />}
      </div>
      {helpOpen && <ShortcutHelp />}
    </section>
  );
}

/**
 * The scroller's size as ResizeObserver reports it. The library's default also reads the size
 * when the table mounts, inside React's commit, which forces the page's first layout there
 * (50-90 ms at start-up) rather than in the frame that paints the rows; `initialRect` stands in
 * until the first report, which comes before that paint.
 */
function observeScrollerRect(instance: Virtualizer<HTMLDivElement, Element>, cb: (rect: Rect) => void): (() => void) | undefined {
  const element = instance.scrollElement;
  if (element === null || typeof ResizeObserver === 'undefined') return observeElementRect(instance, cb);
  const observer = new ResizeObserver(() => cb({ width: element.clientWidth, height: element.clientHeight }));
  observer.observe(element);
  return () => observer.disconnect();
}

function FleetHeader({ shownRef }: { shownRef: { readonly current: readonly string[] } }) {
  const ui = useFleetUiStore();
  const sort = useFleetSort();
  const selectedCount = useStore(ui, (s) => s.selected.size);
  const shownCount = shownRef.current.length;
  const all = shownCount > 0 && selectedCount === shownCount;
  return (
    <div role="row" className="fleet-row fleet-header">
      <div role="columnheader" className="check">
        <input
          type="checkbox"
          aria-label="Select all matching devices"
          data-testid="fleet-select-all"
          checked={all}
          ref={(el) => void (el && (el.indeterminate = selectedCount > 0 && !all))}
          onChange={() => (all ? ui.getState().clearSelection() : ui.getState().selectAll(shownRef.current))}
        />
      </div>
      {COLUMNS.map((column, i) => {
        const active = column.sort !== undefined && sort.key === column.sort;
        return (
          <div role="columnheader" key={`${column.label}-${i}`} aria-sort={active ? (sort.descending ? 'descending' : 'ascending') : undefined}>
            {column.sort === undefined ? (
              column.label
            ) : (
              <button type="button" className="sort" data-testid={`fleet-sort-${column.sort}`} onClick={() => column.sort && ui.getState().sortBy(column.sort)}>
                {column.label}
                {active ? (sort.descending ? ' ↓' : ' ↑') : ''}
              </button>
            )}
          </div>
        );
      })}
    </div>
  );
}

/** Binds the fleet keys on the window while the view is open (never while the user types). */
function useFleetShortcuts(
  ui: FleetUiStore,
  shownRef: { readonly current: readonly string[] },
  searchRef: { readonly current: HTMLInputElement | null },
  scrollTo: (index: number) => void,
): void {
  const scrollRef = useRef(scrollTo);
  scrollRef.current = scrollTo;
  useEffect(() => {
    const onKey = (event: KeyboardEvent): void => {
      const target = event.target instanceof HTMLElement ? event.target : null;
      const shortcut = shortcutOf({ key: event.key, ctrlKey: event.ctrlKey, metaKey: event.metaKey, altKey: event.altKey, target });
      if (shortcut === null) return;
      const state = ui.getState();
      const shown = shownRef.current;
      const moveBy = (delta: number): void => {
        state.moveCursor(delta, shown);
        const cursor = ui.getState().cursor;
        const index = cursor === null ? -1 : shown.indexOf(cursor);
        if (index >= 0) scrollRef.current(index);
        if (ui.getState().detailsId !== null && cursor !== null) ui.getState().openDetails(cursor);
      };
      switch (shortcut) {
        case 'focus-search':
          searchRef.current?.focus();
          searchRef.current?.select();
          break;
        case 'next':
          moveBy(1);
          break;
        case 'previous':
          moveBy(-1);
          break;
        case 'open':
          if (state.cursor === null) return;
          state.openDetails(state.cursor);
          break;
        case 'toggle':
          if (state.cursor === null) return;
          state.toggle(state.cursor);
          break;
        case 'escape':
          if (state.helpOpen) state.setHelpOpen(false);
          else if (target !== null && target === searchRef.current) target.blur();
          else if (state.detailsId !== null) state.openDetails(null);
          else state.clearSelection();
          break;
        case 'help':
          state.setHelpOpen(!state.helpOpen);
          break;
      }
      event.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [ui, shownRef, searchRef]);
}
