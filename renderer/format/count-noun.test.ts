import { describe, expect, it } from 'vitest';
import { countNoun } from './count-noun.js';

describe('countNoun', () => {
  it('uses the singular for one only', () => {
    expect(countNoun(1, 'device')).toBe('1 device');
    expect(countNoun(0, 'device')).toBe('0 devices');
    expect(countNoun(2, 'device')).toBe('2 devices');
    expect(countNoun(12000, 'entry', 'entries')).toBe('12,000 entries');
  });
});
