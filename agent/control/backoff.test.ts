import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff.js';

describe('Backoff', () => {
  it('doubles the ceiling from 1 s up to 60 s', () => {
    const b = new Backoff(1000, 60_000, () => 0.999999);
    const delays = Array.from({ length: 9 }, () => b.next());
    expect(delays).toEqual([999, 1999, 3999, 7999, 15999, 31999, 59999, 59999, 59999]);
  });

  it('spreads delays over the whole interval (full jitter) and starts again after reset', () => {
    const b = new Backoff(1000, 60_000, () => 0);
    b.next();
    b.next();
    expect(b.next()).toBe(0);
    const seq = [0.5];
    const c = new Backoff(1000, 60_000, () => seq[0] ?? 0);
    c.next();
    c.next();
    c.reset();
    expect(c.next()).toBe(500);
  });
});
