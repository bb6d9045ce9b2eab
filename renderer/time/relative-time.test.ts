import { describe, expect, it } from 'vitest';
import { formatRelativeTime } from './relative-time.js';

const NOW = 1_700_000_000_000;

describe('formatRelativeTime', () => {
  it.each([
    [null, 'never'],
    [NOW, '0 s ago'],
    [NOW - 12_400, '12 s ago'],
    [NOW - 59_999, '59 s ago'],
    [NOW - 60_000, '1 min ago'],
    [NOW - 59 * 60_000, '59 min ago'],
    [NOW - 3 * 3_600_000, '3 h ago'],
    [NOW - 49 * 3_600_000, '2 d ago'],
    [NOW + 5_000, '0 s ago'],
  ])('%s → %s', (then, text) => {
    expect(formatRelativeTime(then, NOW)).toBe(text);
  });
});
