import { afterEach, describe, expect, it, vi } from 'vitest';
import { createClockStore, startClock } from './clock-store.js';

describe('clock store', () => {
  afterEach(() => vi.useRealTimers());

  it('ticks on its interval until stopped', () => {
    vi.useFakeTimers({ now: 1_000 });
    const clock = createClockStore();
    const stop = startClock(clock, 1_000);
    vi.advanceTimersByTime(3_000);
    expect(clock.getState().now).toBe(4_000);
    stop();
    vi.advanceTimersByTime(3_000);
    expect(clock.getState().now).toBe(4_000);
  });
});
