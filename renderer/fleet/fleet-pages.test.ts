import { describe, expect, it } from 'vitest';
import { FIRST_PAGE, ROW_HEIGHT, firstPageSize } from './fleet-pages.js';

describe('the first device page', () => {
  it('fills the table of a 1,600 px tall window and stays small enough to parse before the first render', () => {
    expect(FIRST_PAGE * ROW_HEIGHT).toBeGreaterThanOrEqual(1_600);
    expect(FIRST_PAGE).toBeLessThanOrEqual(60);
  });

  it('holds the rows a window can show, no more than FIRST_PAGE', () => {
    expect(firstPageSize(900)).toBe(25);
    expect(firstPageSize(900) * ROW_HEIGHT).toBeGreaterThanOrEqual(900);
    expect(firstPageSize(1_600)).toBe(45);
    expect(firstPageSize(4_000)).toBe(FIRST_PAGE);
  });

  it('holds a few rows even in a window that reports no height', () => {
    expect(firstPageSize(0)).toBe(10);
  });
});
