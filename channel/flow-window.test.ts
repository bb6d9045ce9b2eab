import { describe, expect, it } from 'vitest';
import { FlowWindow } from './flow-window.js';

describe('FlowWindow', () => {
  it('pauses once at the high-water mark and resumes only below the low one', () => {
    const w = new FlowWindow(100, 30);
    expect(w.sent(60)).toBe(false);
    expect(w.sent(40)).toBe(true);
    expect(w.paused).toBe(true);
    expect(w.sent(10)).toBe(false);
    expect(w.acked(50)).toBe(false);
    expect(w.paused).toBe(true);
    expect(w.acked(30)).toBe(true);
    expect(w.paused).toBe(false);
    expect(w.unacked).toBe(30);
  });

  it('does not let acks beyond what was sent buy credit', () => {
    const w = new FlowWindow(100, 30);
    w.acked(1_000_000);
    expect(w.unacked).toBe(0);
    expect(w.sent(100)).toBe(true);
  });

  it('refuses marks in the wrong order', () => {
    expect(() => new FlowWindow(10, 10)).toThrow(RangeError);
  });
});
