import { createStore, type StoreApi } from 'zustand/vanilla';
import type { ConsoleConnectionStatus } from './console-socket.js';

/** The console socket's state, for the connection indicator. */
export interface ConnectionState {
  status: ConsoleConnectionStatus;
  setStatus(status: ConsoleConnectionStatus): void;
}

export type ConnectionStore = StoreApi<ConnectionState>;

export function createConnectionStore(): ConnectionStore {
  return createStore<ConnectionState>()((set) => ({
    status: 'idle',
    setStatus: (status) => set({ status }),
  }));
}
