import { useStore } from 'zustand';
import type { Device } from '../../protocol/index.js';
import type { UiError } from '../api/ui-error.js';
import { useAppStores } from '../app/app-stores.js';

/** Ids in display order; stable across status updates, so the table does not re-render for them. */
export const useDeviceIds = (): readonly string[] => useStore(useAppStores().fleet, (s) => s.ids);
/** One device; its row re-renders only when this entry changes. */
export const useDevice = (id: string): Device | undefined => useStore(useAppStores().fleet, (s) => s.byId.get(id));
export const useDeviceCount = (): number => useStore(useAppStores().fleet, (s) => s.ids.length);
export const useOnlineCount = (): number => useStore(useAppStores().fleet, (s) => s.online);
export const useFleetLoading = (): boolean => useStore(useAppStores().fleet, (s) => s.loading);
export const useFleetLoadError = (): UiError | null => useStore(useAppStores().fleet, (s) => s.loadError);
