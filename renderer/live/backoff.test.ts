import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.js';

describe('backoffDelay', () => {
  it('doubles the ceiling per attempt up to the maximum', () => {
    const top = (attempt: number) => backoffDelay(attempt, { random: () => 1 });
    expect([0, 1, 2, 3, 4, 5, 6, 50].map(top)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('spreads delays over [min, ceiling] with full jitter', () => {
    expect(backoffDelay(3, { random: () => 0 })).toBe(250);
    expect(backoffDelay(3, { random: () => 0.5 })).toBe(4_125);
  });
});
