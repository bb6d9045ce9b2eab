import { describe, expect, it } from 'vitest';
import { ReplayWindow } from './replay-window.js';

const REPLAY = expect.objectContaining({ code: 'FRAME_REPLAY' });

describe('ReplayWindow', () => {
  it('accepts strictly increasing counters, gaps included', () => {
    const w = new ReplayWindow();
    expect(w.last).toBeNull();
    w.accept(0, 0n);
    w.accept(0, 1n);
    w.accept(0, 5n);
    expect(w.last).toEqual({ epoch: 0, counter: 5n });
  });

  it('refuses a replayed counter', () => {
    const w = new ReplayWindow();
    w.accept(0, 3n);
    expect(() => w.accept(0, 3n)).toThrow(REPLAY);
  });

  it('refuses a reordered (smaller) counter', () => {
    const w = new ReplayWindow();
    w.accept(0, 3n);
    expect(() => w.check(0, 2n)).toThrow(REPLAY);
  });

  it('orders by (epoch, counter): a new epoch may restart its counter, an old one is refused', () => {
    const w = new ReplayWindow();
    w.accept(0, 100n);
    w.accept(1, 0n);
    expect(() => w.accept(0, 101n)).toThrow(REPLAY);
    expect(() => w.accept(1, 0n)).toThrow(REPLAY);
    w.accept(1, 1n);
  });

  it('check() does not move the window', () => {
    const w = new ReplayWindow();
    w.check(0, 9n);
    w.accept(0, 1n);
    expect(w.last).toEqual({ epoch: 0, counter: 1n });
  });
});
