import { createStore, type StoreApi } from 'zustand/vanilla';
import { DEFAULT_SORT, EMPTY_QUERY, type FleetQuery, type FleetSort, type SortKey } from './fleet-query.js';

/**
 * What the user is doing with the fleet table: the query, the sort, the checked rows, the row the
 * keyboard is on and the device whose details are open. Separate from the fleet store, so typing a
 * search never touches the devices and a live update never touches the selection.
 */
export interface FleetUiState {
  query: FleetQuery;
  sort: FleetSort;
  /** Checked rows. Replaced on change, so a row's `selected.has(id)` selector sees only its own flip. */
  selected: ReadonlySet<string>;
  /** The last row clicked without shift: the other end of a shift-click range. */
  anchor: string | null;
  /** The keyboard's row (j/k, arrows). */
  cursor: string | null;
  /** The device whose details panel is open. */
  detailsId: string | null;
  helpOpen: boolean;

  setQuery(patch: Partial<FleetQuery>): void;
  /** Sorts by the key; the same key again flips the direction. */
  sortBy(key: SortKey): void;
  /** Checks or unchecks one row and makes it the anchor. */
  toggle(id: string): void;
  /** Checks every row between the anchor and `id` in the shown order (shift-click). */
  selectRange(id: string, shown: readonly string[]): void;
  /** Checks every shown row (select all matching the filter). */
  selectAll(shown: readonly string[]): void;
  clearSelection(): void;
  /** Moves the cursor by `delta` rows within the shown order; starts at the first row. */
  moveCursor(delta: number, shown: readonly string[]): void;
  setCursor(id: string | null): void;
  openDetails(id: string | null): void;
  setHelpOpen(open: boolean): void;
  /** Drops selected ids that are no longer shown (after a filter change or a removal). */
  retainSelection(shown: readonly string[]): void;
}

export type FleetUiStore = StoreApi<FleetUiState>;

export function createFleetUiStore(): FleetUiStore {
  return createStore<FleetUiState>()((set, get) => ({
    query: EMPTY_QUERY,
    sort: DEFAULT_SORT,
    selected: new Set(),
    anchor: null,
    cursor: null,
    detailsId: null,
    helpOpen: false,

    setQuery(patch) {
      set({ query: { ...get().query, ...patch } });
    },
    sortBy(key) {
      const { sort } = get();
      set({ sort: sort.key === key ? { key, descending: !sort.descending } : { key, descending: false } });
    },
    toggle(id) {
      const selected = new Set(get().selected);
      if (!selected.delete(id)) selected.add(id);
      set({ selected, anchor: id, cursor: id });
    },
    selectRange(id, shown) {
      const { anchor } = get();
      const from = anchor === null ? -1 : shown.indexOf(anchor);
      const to = shown.indexOf(id);
      if (to < 0) return;
      if (from < 0) return get().toggle(id);
      const selected = new Set(get().selected);
      for (let i = Math.min(from, to); i <= Math.max(from, to); i++) selected.add(shown[i] as string);
      set({ selected, cursor: id });
    },
    selectAll(shown) {
      set({ selected: new Set(shown) });
    },
    clearSelection() {
      if (get().selected.size > 0) set({ selected: new Set(), anchor: null });
    },
    moveCursor(delta, shown) {
      if (shown.length === 0) return;
      const { cursor } = get();
      const at = cursor === null ? -1 : shown.indexOf(cursor);
      const next = at < 0 ? 0 : Math.max(0, Math.min(shown.length - 1, at + delta));
      set({ cursor: shown[next] ?? null });
    },
    setCursor(id) {
      set({ cursor: id });
    },
    openDetails(id) {
      set(id === null ? { detailsId: null } : { detailsId: id, cursor: id });
    },
    setHelpOpen(open) {
      set({ helpOpen: open });
    },
    retainSelection(shown) {
      const { selected } = get();
      if (selected.size === 0) return;
      const visible = new Set(shown);
      const kept = [...selected].filter((id) => visible.has(id));
      if (kept.length !== selected.size) set({ selected: new Set(kept) });
    },
  }));
}
