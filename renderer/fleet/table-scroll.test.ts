import type { Virtualizer } from '@tanstack/react-virtual';
import { describe, expect, it, vi } from 'vitest';
import { scrollScroller } from './table-scroll.js';

/** A virtualizer as scrollScroller sees it: its scroller and the options elementScroll reads. */
function table() {
  const scrollTo = vi.fn();
  const instance = { scrollElement: { scrollTo }, options: { horizontal: false, isRtl: false } } as unknown as Virtualizer<HTMLDivElement, Element>;
  return { scrollTo, instance };
}

describe('scrollScroller', () => {
  it('skips the write to 0 a table makes when it mounts, so the commit forces no layout', () => {
    const { scrollTo, instance } = table();
    scrollScroller(0, {}, instance);
    expect(scrollTo).not.toHaveBeenCalled();
  });

  it('writes every later offset, 0 included', () => {
    const { scrollTo, instance } = table();
    scrollScroller(0, {}, instance);
    scrollScroller(360, {}, instance);
    scrollScroller(0, { behavior: 'smooth' }, instance);
    expect(scrollTo.mock.calls).toEqual([[{ top: 360, behavior: undefined }], [{ top: 0, behavior: 'smooth' }]]);
  });

  it('writes a first offset other than 0', () => {
    const { scrollTo, instance } = table();
    scrollScroller(0, { adjustments: 72 }, instance);
    expect(scrollTo).toHaveBeenCalledWith({ top: 72, behavior: undefined });
  });
});
