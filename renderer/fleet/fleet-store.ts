import { createStore, type StoreApi } from 'zustand/vanilla';
import { missingCase, type ConsoleServerMessage, type Device } from '../../protocol/index.js';
import type { ApiClient } from '../api/api-client.js';
import { toUiError, type UiError } from '../api/ui-error.js';
import { FIRST_PAGE, LIST_PAGE } from './fleet-pages.js';

/** The console messages that change the fleet. */
export type FleetEvent = Extract<ConsoleServerMessage, { type: 'device.upsert' | 'device.status' | 'device.removed' }>;

export interface FleetState {
  /**
   * Devices keyed by id. The store updates this map in place (copying 10,000 entries per batch of
   * events took ~6 ms of every 100 ms under a storm of updates); `version` says it changed. An
   * event replaces only its own entry, so other rows keep their identity.
   */
  byId: ReadonlyMap<string, Device>;
  /** Bumped whenever `byId` changes. */
  version: number;
  /** Devices online, counted as events arrive rather than over the whole map per batch. */
  online: number;
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
  /** Applies a batch with one notification (see fleet-event-batcher.ts). */
  applyMany(events: readonly FleetEvent[]): void;
  clear(): void;
}

export type FleetStore = StoreApi<FleetState>;

export interface FleetStoreDeps {
  api: Pick<ApiClient, 'listDevices'>;
  /** Devices in the list's first page (see firstPageSize); FIRST_PAGE when not given. */
  firstPage?: number;
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

function sortIds(byId: ReadonlyMap<string, Device>): string[] {
  return [...byId.values()]
    .sort((a, b) => collator.compare(a.name, b.name) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((device) => device.id);
}

/** What `byId`, `ids` and `online` show, with the map the store itself writes. */
interface Snapshot {
  byId: Map<string, Device>;
  ids: readonly string[];
  online: number;
}

const onlineOf = (device: Device | undefined): number => (device?.online === true ? 1 : 0);

/**
 * Applies events in order to `byId`, in place; returns the snapshot after them, or null when
 * nothing changed. The name order is rebuilt only when a device was added or renamed.
 */
function reduce(byId: Map<string, Device>, ids: readonly string[], online: number, events: readonly FleetEvent[]): Snapshot | null {
  let changed = false;
  let resort = false;
  let removed = false;
  for (const event of events) {
    switch (event.type) {
      case 'device.upsert': {
        const previous = byId.get(event.device.id);
        byId.set(event.device.id, event.device);
        online += onlineOf(event.device) - onlineOf(previous);
        changed = true;
        if (previous === undefined || previous.name !== event.device.name) resort = true;
        break;
      }
      case 'device.status': {
        const previous = byId.get(event.id);
        // A status for a device the list has not shown yet: its upsert or the next load brings it.
        if (previous === undefined) break;
        if (previous.online === event.online && previous.lastSeen === event.lastSeen) break;
        byId.set(event.id, { ...previous, online: event.online, lastSeen: event.lastSeen });
        online += (event.online ? 1 : 0) - onlineOf(previous);
        changed = true;
        break;
      }
      case 'device.removed': {
        const previous = byId.get(event.id);
        if (previous === undefined) break;
        byId.delete(event.id);
        online -= onlineOf(previous);
        changed = removed = true;
        break;
      }
      default:
        return missingCase(event);
    }
  }
  if (!changed) return null;
  return { byId, ids: resort ? sortIds(byId) : removed ? ids.filter((id) => byId.has(id)) : ids, online };
}

/** A fresh map's snapshot: its name order and online count, after `events`. */
function snapshot(byId: Map<string, Device>, events: readonly FleetEvent[]): Snapshot {
  const fresh = { byId, ids: sortIds(byId), online: countOnline(byId) };
  return reduce(byId, fresh.ids, fresh.online, events) ?? fresh;
}

export function createFleetStore({ api, firstPage = FIRST_PAGE }: FleetStoreDeps): FleetStore {
  /** Bumped by every load and clear, so an answer that arrives late is dropped. */
  let generation = 0;
  /** Events seen while a load is in flight; null when none is. */
  let pending: FleetEvent[] | null = null;
  /** The map `byId` shows: only this store writes it. */
  let devices = new Map<string, Device>();

  return createStore<FleetState>()((set, get) => {
    const show = (next: Snapshot, rest: Partial<Pick<FleetState, 'loading' | 'loadError'>> = {}): void => {
      devices = next.byId;
      set({ ...next, ...rest, version: get().version + 1 });
    };
    const fromPage = (page: readonly Device[]): Map<string, Device> => new Map(page.map((device) => [device.id, device]));

    return {
      byId: devices,
      version: 0,
      online: 0,
      ids: [],
      loading: true,
      loadError: null,

      async load() {
        generation += 1;
        const mine = generation;
        pending = [];
        const progressive = get().loading;
        const fetched = new Map<string, Device>();
        try {
          let after: string | undefined;
          for (let first = true; ; first = false) {
            const page = await api.listDevices({ limit: first ? firstPage : LIST_PAGE, after });
            if (mine !== generation) return;
            for (const device of page.devices) fetched.set(device.id, device);
            const complete = page.nextAfter === null;
            if (complete || (first && progressive)) {
              // Events are absolute (not deltas) and arrive in order, so replaying the ones that raced
              // the list leaves each device at its newest known state. The first page is shown from
              // a copy: `fetched` goes on filling.
              show(snapshot(complete ? fetched : new Map(fetched), pending ?? []), { loading: !complete, loadError: null });
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
          const page = await api.listDevices({ limit: firstPage });
          // A load begun meanwhile is newer: its own first page follows at once.
          if (mine !== generation) return;
          show(snapshot(fromPage(page.devices), []));
        } catch {
          // Left to the load on `ready`, which reports its errors; a refused session ends the socket too.
        }
      },

      apply(event) {
        get().applyMany([event]);
      },

      applyMany(events) {
        if (pending !== null) for (const event of events) pending.push(event);
        const { ids, online } = get();
        const next = reduce(devices, ids, online, events);
        if (next !== null) show(next);
      },

      clear() {
        generation += 1;
        pending = null;
        show({ byId: new Map(), ids: [], online: 0 }, { loading: true, loadError: null });
      },
    };
  });
}

/** How many devices of `byId` are online. */
export function countOnline(byId: ReadonlyMap<string, Device>): number {
  let online = 0;
  for (const device of byId.values()) online += onlineOf(device);
  return online;
}
