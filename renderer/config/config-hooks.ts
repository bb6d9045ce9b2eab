import { useStore } from 'zustand';
import { useAppStores } from '../app/app-stores.js';
import type { ConfigState, ConfigStore } from './config-store.js';

function useConfigStore(): ConfigStore {
  const store = useAppStores().config;
  if (store === undefined) throw new Error('useConfigStore: main.tsx builds no config store');
  return store;
}

/** One slice of the config state; the component re-renders only when that slice changes. */
export function useConfig<T>(selector: (state: ConfigState) => T): T {
  return useStore(useConfigStore(), selector);
}
