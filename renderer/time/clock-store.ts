import { createStore, type StoreApi } from 'zustand/vanilla';

/** A shared wall clock, so every relative time on screen ticks together from one timer. */
export interface ClockState {
  now: number;
  tick(): void;
}

export type ClockStore = StoreApi<ClockState>;

export function createClockStore(now: () => number = Date.now): ClockStore {
  return createStore<ClockState>()((set) => ({
    now: now(),
    tick: () => set({ now: now() }),
  }));
}

/** Ticks the clock every `intervalMs`; returns the stop function. */
export function startClock(clock: ClockStore, intervalMs = 1_000): () => void {
  const timer = setInterval(() => clock.getState().tick(), intervalMs);
  return () => clearInterval(timer);
}
