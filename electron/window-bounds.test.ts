import { describe, expect, it } from 'vitest';
import { restoreWindowBounds, windowStateToSave } from './window-bounds.js';

const DEFAULTS = { width: 1280, height: 820 };
const MIN = { width: 720, height: 480 };
const LAPTOP = { x: 0, y: 0, width: 1440, height: 875 };
const RIGHT_MONITOR = { x: 1440, y: -200, width: 2560, height: 1400 };

const saved = (x: number, y: number, width: number, height: number, maximized = false) => ({ x, y, width, height, maximized });

describe('restoreWindowBounds', () => {
  it('centres the default size on the primary display the first time', () => {
    expect(restoreWindowBounds(null, [LAPTOP, RIGHT_MONITOR], DEFAULTS, MIN)).toEqual({ bounds: { x: 80, y: 27, width: 1280, height: 820 }, maximized: false });
  });

  it('keeps bounds that fit a display as they were, on whichever display they were', () => {
    expect(restoreWindowBounds(saved(100, 50, 1000, 700), [LAPTOP, RIGHT_MONITOR], DEFAULTS, MIN).bounds).toEqual({ x: 100, y: 50, width: 1000, height: 700 });
    expect(restoreWindowBounds(saved(2000, -100, 1600, 1000, true), [LAPTOP, RIGHT_MONITOR], DEFAULTS, MIN)).toEqual({
      bounds: { x: 2000, y: -100, width: 1600, height: 1000 },
      maximized: true,
    });
  });

  it('moves a window that hangs off the edge back inside the display it is mostly on', () => {
    expect(restoreWindowBounds(saved(1000, 600, 1000, 700), [LAPTOP], DEFAULTS, MIN).bounds).toEqual({ x: 440, y: 175, width: 1000, height: 700 });
    expect(restoreWindowBounds(saved(-300, -50, 1000, 700), [LAPTOP], DEFAULTS, MIN).bounds).toEqual({ x: 0, y: 0, width: 1000, height: 700 });
  });

  it('shrinks a window larger than its display', () => {
    expect(restoreWindowBounds(saved(1500, -150, 2400, 1300), [LAPTOP], DEFAULTS, MIN).bounds).toEqual({ x: 0, y: 0, width: 1440, height: 875 });
  });

  it('brings back a window left on a monitor that is gone, centred on the primary display', () => {
    expect(restoreWindowBounds(saved(2000, 100, 1200, 800, true), [LAPTOP], DEFAULTS, MIN)).toEqual({ bounds: { x: 120, y: 37, width: 1200, height: 800 }, maximized: true });
  });

  it('does not count a sliver on a display as visible', () => {
    // 140 px on the laptop: pulled in where it was. 50 px: not enough to grab, so centred.
    expect(restoreWindowBounds(saved(1300, 100, 1000, 700), [LAPTOP], DEFAULTS, MIN).bounds).toEqual({ x: 440, y: 100, width: 1000, height: 700 });
    expect(restoreWindowBounds(saved(1390, 100, 1000, 700), [LAPTOP], DEFAULTS, MIN).bounds).toEqual({ x: 220, y: 87, width: 1000, height: 700 });
  });

  it('copes with a display smaller than the minimum size and with no display list', () => {
    const tiny = { x: 0, y: 0, width: 640, height: 400 };
    expect(restoreWindowBounds(saved(0, 0, 1000, 700), [tiny], DEFAULTS, MIN).bounds).toEqual({ x: 0, y: 0, width: 640, height: 400 });
    expect(restoreWindowBounds(null, [], DEFAULTS, MIN).bounds).toEqual({ x: 0, y: 0, width: 1280, height: 820 });
  });
});

describe('windowStateToSave', () => {
  it('rounds to whole pixels, as the state file requires', () => {
    expect(windowStateToSave({ x: 10.4, y: -3.6, width: 999.5, height: 0.2 }, true)).toEqual({ x: 10, y: -4, width: 1000, height: 1, maximized: true });
  });
});
