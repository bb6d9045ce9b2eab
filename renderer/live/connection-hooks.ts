import { useStore } from 'zustand';
import { useAppStores } from '../app/app-stores.js';
import type { ConsoleConnectionStatus } from './console-socket.js';

export const useConnectionStatus = (): ConsoleConnectionStatus => useStore(useAppStores().connection, (s) => s.status);
