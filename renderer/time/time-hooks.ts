import { useStore } from 'zustand';
import { useAppStores } from '../app/app-stores.js';
import { formatRelativeTime } from './relative-time.js';

/** "12 s ago" for `then`, kept current by the shared clock; re-renders only when the text changes. */
export const useRelativeTime = (then: number | null): string =>
  useStore(useAppStores().clock, (s) => formatRelativeTime(then, s.now));
