import { createContext, useContext } from 'react';
import type { AuthStore } from '../auth/auth-store.js';
import type { ConnectionStore } from '../live/connection-store.js';
import type { FleetStore } from '../fleet/fleet-store.js';
import type { ClockStore } from '../time/clock-store.js';
import type { ConfigStore } from '../config/config-store.js';

/** The stores main.tsx builds; components reach them only through the feature selector hooks. */
export interface AppStores {
  auth: AuthStore;
  fleet: FleetStore;
  connection: ConnectionStore;
  clock: ClockStore;
  /** Remote configuration view; optional so stores built for other views' tests need not make it. */
  config?: ConfigStore;
}

export const AppStoresContext = createContext<AppStores | null>(null);

export function useAppStores(): AppStores {
  const stores = useContext(AppStoresContext);
  if (stores === null) throw new Error('useAppStores: render inside <AppStoresContext value={…}>');
  return stores;
}
