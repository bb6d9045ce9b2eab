import { useStore } from 'zustand';
import { useAppStores } from '../app/app-stores.js';
import { formatRelativeTime } from './relative-time.js';

/** "12 s ago" for `then`, kept current by the shared clock; re-renders only when the text changes. */
export const useRelativeTime = (then: number | null): string =>
  useStore(useAppStores().clock, (s) => formatRelativeTime(then, s.now));

/**
 * A device's presence as a phrase that stays true: "online" while it is connected (the backend
 * pushes every connect and disconnect, and drops a device silent for 90 s), otherwise when it was
 * last seen ("3 min ago", from the disconnect's time). Heartbeats therefore need not reach the
 * console at all: 10,000 devices cost no message until one of them comes or goes.
 */
export const useLastSeen = (online: boolean, lastSeen: number | null): string =>
  useStore(useAppStores().clock, (s) => (online ? 'online' : formatRelativeTime(lastSeen, s.now)));
