import { createStore, type StoreApi } from 'zustand/vanilla';
import { missingCase, type ConsoleServerMessage, type Device } from '../../protocol/index.js';
import type { ApiClient } from '../api/api-client.js';
import { toUiError, type UiError } from '../api/ui-error.js';
import { FIRST_PAGE, LIST_PAGE } from './fleet-pages.js';

/** The console messages that change the fleet. */
export type FleetEvent = Extract<ConsoleServerMessage, { type: 'device.upsert' | 'device.status' | 'device.removed' }>;

export interface FleetState {
  /** Devices keyed by id. An event replaces only its own entry, so other rows keep their identity. */
  byId: Readonly<Record<string, Device>>;
  /** Ids in display order (by name). Changes only when a device is added, renamed or removed. */
  ids: readonly string[];
  /** True until the whole first list has arrived (its first page may be shown already). */
  loading: boolean;
  loadError: UiError | null;
  /**
   * Fetches the whole list, page by page. The first load shows its first page at once; a reload
   * keeps the previous list until the new one is complete. Events that arrive meanwhile are
   * applied on top of what was fetched.
   */
  load(): Promise<void>;
  /**
   * Shows the list's first page while nothing is shown yet and no load has begun: at sign-in, so
   * the table fills while the console socket connects. The load that `ready` starts replaces it.
   */
  preview(): Promise<void>;
  apply(event: FleetEvent): void;
  /** Applies a batch with one copy of the map and one notification (see fleet-event-batcher.ts). */
  applyMany(events: readonly FleetEvent[]): void;
  clear(): void;
}

export type FleetStore = StoreApi<FleetState>;

export interface FleetStoreDeps {
  api: Pick<ApiClient, 'listDevices'>;
}

export { FIRST_PAGE, LIST_PAGE } from './fleet-pages.js';

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

function sortIds(byId: Readonly<Record<string, Device>>): string[] {
  return Object.values(byId)
    .sort((a, b) => collator.compare(a.name, b.name) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((device) => device.id);
}

type Snapshot = Pick<FleetState, 'byId' | 'ids'>;

/**
 * Applies events in order to a snapshot; returns the same snapshot when nothing changed. The map is
 * copied once per batch, not per event, and the name order is rebuilt only when a name changed.
 */
function reduce(state: Snapshot, events: readonly FleetEvent[]): Snapshot {
  let byId: Record<string, Device> | null = null;
  let resort = false;
  let removed = false;
  for (const event of events) {
    const current = byId ?? state.byId;
    switch (event.type) {
      case 'device.upsert': {
        const previous = current[event.device.id];
        byId ??= { ...state.byId };
        byId[event.device.id] = event.device;
        if (previous === undefined || previous.name !== event.device.name) resort = true;
        break;
      }
      case 'device.status': {
        const previous = current[event.id];
        // A status for a device the list has not shown yet: its upsert or the next load brings it.
        if (previous === undefined) break;
        if (previous.online === event.online && previous.lastSeen === event.lastSeen) break;
        byId ??= { ...state.byId };
        byId[event.id] = { ...previous, online: event.online, lastSeen: event.lastSeen };
        break;
      }
      case 'device.removed': {
        if (current[event.id] === undefined) break;
        byId ??= { ...state.byId };
        delete byId[event.id];
        removed = true;
        break;
      }
      default:
        return missingCase(event);
    }
  }
  if (byId === null) return state;
  const next = byId;
  const ids = resort ? sortIds(next) : removed ? state.ids.filter((id) => next[id] !== undefined) : state.ids;
  return { byId: next, ids };
}

export function createFleetStore({ api }: FleetStoreDeps): FleetStore {
  /** Bumped by every load and clear, so an answer that arrives late is dropped. */
  let generation = 0;
  /** Events seen while a load is in flight; null when none is. */
  let pending: FleetEvent[] | null = null;

  return createStore<FleetState>()((set, get) => ({
    byId: {},
    ids: [],
    loading: true,
    loadError: null,

    async load() {
      generation += 1;
      const mine = generation;
      pending = [];
      const progressive = get().loading;
      const fetched: Record<string, Device> = {};
      try {
        let after: string | undefined;
        for (let first = true; ; first = false) {
          const page = await api.listDevices({ limit: first ? FIRST_PAGE : LIST_PAGE, after });
          if (mine !== generation) return;
          for (const device of page.devices) fetched[device.id] = device;
          const complete = page.nextAfter === null;
          if (complete || (first && progressive)) {
            const byId = { ...fetched };
            // Events are absolute (not deltas) and arrive in order, so replaying the ones that raced
            // the list leaves each device at its newest known state.
            set({ ...reduce({ byId, ids: sortIds(byId) }, pending ?? []), loading: !complete, loadError: null });
          }
          if (page.nextAfter === null) break;
          after = page.nextAfter;
        }
        pending = null;
      } catch (error) {
        if (mine !== generation) return;
        pending = null;
        set({ loading: false, loadError: toUiError(error) });
      }
    },

    async preview() {
      if (pending !== null || !get().loading || get().ids.length > 0) return;
      const mine = generation;
      try {
        const page = await api.listDevices({ limit: FIRST_PAGE });
        // A load begun meanwhile is newer: its own first page follows at once.
        if (mine !== generation) return;
        const byId: Record<string, Device> = {};
        for (const device of page.devices) byId[device.id] = device;
        set({ byId, ids: sortIds(byId) });
      } catch {
        // Left to the load on `ready`, which reports its errors; a refused session ends the socket too.
      }
    },

    apply(event) {
      get().applyMany([event]);
    },

    applyMany(events) {
      if (pending !== null) for (const event of events) pending.push(event);
      const state = get();
      const next = reduce(state, events);
      if (next !== state) set(next);
    },

    clear() {
      generation += 1;
      pending = null;
      set({ byId: {}, ids: [], loading: true, loadError: null });
    },
  }));
}

/** How many devices are online; for the fleet header. */
export function countOnline(byId: Readonly<Record<string, Device>>): number {
  let online = 0;
  for (const id in byId) if (byId[id]?.online === true) online += 1;
  return online;
}
