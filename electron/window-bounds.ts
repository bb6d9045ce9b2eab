import type { WindowState } from '../protocol/index.js';

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** At least this much of the title bar area must be on a display, or the window is moved. */
const MIN_VISIBLE = { width: 120, height: 60 } as const;

/**
 * Where to open the console window: the remembered bounds, kept on a display that still exists
 * (a monitor unplugged since, a laptop now without its dock) and no larger than it; otherwise
 * the default size centred on the primary display. `workAreas[0]` is the primary display.
 */
export function restoreWindowBounds(
  saved: WindowState | null,
  workAreas: readonly Rect[],
  defaults: { width: number; height: number },
  minimum: { width: number; height: number },
): { bounds: Rect; maximized: boolean } {
  const primary = workAreas[0] ?? { x: 0, y: 0, ...defaults };
  if (saved === null) return { bounds: centred(primary, defaults, minimum), maximized: false };
  let best: Rect | null = null;
  let bestArea = 0;
  for (const area of workAreas) {
    const overlap = intersection(saved, area);
    if (overlap !== null && overlap.width >= MIN_VISIBLE.width && overlap.height >= MIN_VISIBLE.height && overlap.width * overlap.height > bestArea) {
      best = area;
      bestArea = overlap.width * overlap.height;
    }
  }
  if (best === null) return { bounds: centred(primary, saved, minimum), maximized: saved.maximized };
  const width = clamp(saved.width, Math.min(minimum.width, best.width), best.width);
  const height = clamp(saved.height, Math.min(minimum.height, best.height), best.height);
  return {
    bounds: {
      x: clamp(saved.x, best.x, best.x + best.width - width),
      y: clamp(saved.y, best.y, best.y + best.height - height),
      width,
      height,
    },
    maximized: saved.maximized,
  };
}

/** What to remember when the window closes: its normal (not maximised) bounds and whether it was maximised. */
export function windowStateToSave(normalBounds: Rect, maximized: boolean): WindowState {
  return {
    x: Math.round(normalBounds.x),
    y: Math.round(normalBounds.y),
    width: Math.max(1, Math.round(normalBounds.width)),
    height: Math.max(1, Math.round(normalBounds.height)),
    maximized,
  };
}

function centred(area: Rect, size: { width: number; height: number }, minimum: { width: number; height: number }): Rect {
  const width = clamp(size.width, Math.min(minimum.width, area.width), area.width);
  const height = clamp(size.height, Math.min(minimum.height, area.height), area.height);
  return { x: area.x + Math.floor((area.width - width) / 2), y: area.y + Math.floor((area.height - height) / 2), width, height };
}

function intersection(a: Rect, b: Rect): Rect | null {
  const x = Math.max(a.x, b.x);
  const y = Math.max(a.y, b.y);
  const right = Math.min(a.x + a.width, b.x + b.width);
  const bottom = Math.min(a.y + a.height, b.y + b.height);
  return right > x && bottom > y ? { x, y, width: right - x, height: bottom - y } : null;
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(Math.max(value, low), Math.max(low, high));
}
