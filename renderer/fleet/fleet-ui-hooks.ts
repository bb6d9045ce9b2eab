import { createContext, useContext } from 'react';
import { useStore } from 'zustand';
import type { FleetUiState, FleetUiStore } from './fleet-ui-store.js';

/** The fleet view's UI store; FleetView creates it, so its rows, toolbar and panels share it. */
export const FleetUiContext = createContext<FleetUiStore | null>(null);

export function useFleetUiStore(): FleetUiStore {
  const store = useContext(FleetUiContext);
  if (store === null) throw new Error('useFleetUiStore: render inside <FleetUiContext value={…}>');
  return store;
}

export const useFleetQuery = (): FleetUiState['query'] => useStore(useFleetUiStore(), (s) => s.query);
export const useFleetSort = (): FleetUiState['sort'] => useStore(useFleetUiStore(), (s) => s.sort);
export const useSelectedCount = (): number => useStore(useFleetUiStore(), (s) => s.selected.size);
/** One row's checkbox; flips re-render that row alone. */
export const useIsSelected = (id: string): boolean => useStore(useFleetUiStore(), (s) => s.selected.has(id));
export const useIsCursor = (id: string): boolean => useStore(useFleetUiStore(), (s) => s.cursor === id);
export const useCursor = (): string | null => useStore(useFleetUiStore(), (s) => s.cursor);
export const useDetailsId = (): string | null => useStore(useFleetUiStore(), (s) => s.detailsId);
export const useHelpOpen = (): boolean => useStore(useFleetUiStore(), (s) => s.helpOpen);
