import { describe, expect, it } from 'vitest';
import { FIRST_PAGE } from './fleet-pages.js';
import { ROW_HEIGHT } from './fleet-view.js';

describe('the first device page', () => {
  it('fills the table of a 1,600 px tall window and stays small enough to parse before the first render', () => {
    expect(FIRST_PAGE * ROW_HEIGHT).toBeGreaterThanOrEqual(1_600);
    expect(FIRST_PAGE).toBeLessThanOrEqual(60);
  });
});
