import { createStore, type StoreApi } from 'zustand/vanilla';
import { missingCase, type ConsoleServerMessage, type Device } from '../../protocol/index.js';
import type { ApiClient } from '../api/api-client.js';
import { toUiError, type UiError } from '../api/ui-error.js';

/** The console messages that change the fleet. */
export type FleetEvent = Extract<ConsoleServerMessage, { type: 'device.upsert' | 'device.status' | 'device.removed' }>;

export interface FleetState {
  /** Devices keyed by id. An event replaces only its own entry, so other rows keep their identity. */
  byId: Readonly<Record<string, Device>>;
  /** Ids in display order (by name). Changes only when a device is added, renamed or removed. */
  ids: readonly string[];
  /** True until the first list has arrived. */
  loading: boolean;
  loadError: UiError | null;
  /** Fetches the whole list. Events that arrive meanwhile are applied on top of it when it lands. */
  load(): Promise<void>;
  apply(event: FleetEvent): void;
  clear(): void;
}

export type FleetStore = StoreApi<FleetState>;

export interface FleetStoreDeps {
  api: Pick<ApiClient, 'listDevices'>;
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

function sortIds(byId: Readonly<Record<string, Device>>): string[] {
  return Object.values(byId)
    .sort((a, b) => collator.compare(a.name, b.name) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((device) => device.id);
}

type Snapshot = Pick<FleetState, 'byId' | 'ids'>;

/** Applies one event to a snapshot; returns the same snapshot when nothing changed. */
function reduce(state: Snapshot, event: FleetEvent): Snapshot {
  switch (event.type) {
    case 'device.upsert': {
      const previous = state.byId[event.device.id];
      const byId = { ...state.byId, [event.device.id]: event.device };
      const ids = previous === undefined || previous.name !== event.device.name ? sortIds(byId) : state.ids;
      return { byId, ids };
    }
    case 'device.status': {
      const previous = state.byId[event.id];
      // A status for a device the list has not shown yet: its upsert or the next load brings it.
      if (previous === undefined) return state;
      if (previous.online === event.online && previous.lastSeen === event.lastSeen) return state;
      return { byId: { ...state.byId, [event.id]: { ...previous, online: event.online, lastSeen: event.lastSeen } }, ids: state.ids };
    }
    case 'device.removed': {
      if (state.byId[event.id] === undefined) return state;
      const byId = { ...state.byId };
      delete byId[event.id];
      return { byId, ids: state.ids.filter((id) => id !== event.id) };
    }
    default:
      return missingCase(event);
  }
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
      try {
        const { devices } = await api.listDevices();
        if (mine !== generation) return;
        let snapshot: Snapshot = { byId: Object.fromEntries(devices.map((d) => [d.id, d])), ids: [] };
        snapshot = { ...snapshot, ids: sortIds(snapshot.byId) };
        // Events are absolute (not deltas) and arrive in order, so replaying the ones that raced
        // the list leaves each device at its newest known state.
        for (const event of pending) snapshot = reduce(snapshot, event);
        pending = null;
        set({ ...snapshot, loading: false, loadError: null });
      } catch (error) {
        if (mine !== generation) return;
        pending = null;
        set({ loading: false, loadError: toUiError(error) });
      }
    },

    apply(event) {
      pending?.push(event);
      const state = get();
      const next = reduce(state, event);
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
