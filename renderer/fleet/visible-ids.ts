import { useEffect, useState } from 'react';
import { useAppStores } from '../app/app-stores.js';
import type { FleetStore } from './fleet-store.js';
import { dependsOnPresence, visibleIds } from './fleet-query.js';
import type { FleetUiStore } from './fleet-ui-store.js';

/** How often live updates may re-filter and re-sort 10,000 devices; query changes apply at once. */
const REFRESH_MS = 500;

const compute = (fleet: FleetStore, ui: FleetUiStore): readonly string[] => {
  const { byId, ids } = fleet.getState();
  const { query, sort } = ui.getState();
  return visibleIds(byId, ids, query, sort);
};

/**
 * The shown ids in order. A query or sort change or a device added, renamed or removed recomputes at
 * once; other device changes (status, tags) at most every {@link REFRESH_MS}, and only when the result
 * can depend on them, so a storm of live updates costs the table nothing it does not show.
 */
export function useVisibleIds(ui: FleetUiStore): readonly string[] {
  const { fleet } = useAppStores();
  const [shown, setShown] = useState(() => compute(fleet, ui));

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const refresh = (): void => {
      clearTimeout(timer);
      timer = undefined;
      const next = compute(fleet, ui);
      setShown((previous) => (sameIds(previous, next) ? previous : next));
      ui.getState().retainSelection(next);
    };
    refresh();
    const unsubscribeFleet = fleet.subscribe((state, previous) => {
      if (state.ids !== previous.ids) return refresh();
      if (state.version === previous.version || timer !== undefined) return;
      const { query, sort } = ui.getState();
      // With no query and the name order, the store's own `ids` is the answer; only they change it.
      const trivial = query.text.trim() === '' && query.tag.trim() === '' && query.status === 'all' && sort.key === 'name';
      if (!trivial || dependsOnPresence(query, sort)) timer = setTimeout(refresh, REFRESH_MS);
    });
    const unsubscribeUi = ui.subscribe((state, previous) => {
      if (state.query !== previous.query || state.sort !== previous.sort) refresh();
    });
    return () => {
      clearTimeout(timer);
      unsubscribeFleet();
      unsubscribeUi();
    };
  }, [fleet, ui]);

  return shown;
}

function sameIds(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
