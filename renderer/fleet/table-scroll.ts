import { elementScroll, type VirtualizerOptions } from '@tanstack/react-virtual';

/** Scrollers whose first write (the one at mount) has been seen. */
const scrolledOnce = new WeakSet<Element>();

/**
 * The library's `elementScroll`, less the write the virtualizer makes when the table mounts: it
 * scrolls the new scroller to 0, where a new element already is, and `scrollTo` forces a layout
 * of the whole page inside React's commit (45-50 ms of the start-up profiles, done again when the
 * rows come). The browser lays the page out before it paints anyway. Every later write, and a
 * first one to anywhere but 0, goes through.
 */
export const scrollScroller: VirtualizerOptions<HTMLDivElement, Element>['scrollToFn'] = (offset, options, instance) => {
  const element = instance.scrollElement;
  if (element !== null && !scrolledOnce.has(element)) {
    scrolledOnce.add(element);
    if (offset + (options.adjustments ?? 0) === 0) return;
  }
  elementScroll(offset, options, instance);
};
