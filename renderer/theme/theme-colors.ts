/**
 * Colors for things CSS cannot reach (xterm's canvas, chart.js), read from the theme's custom
 * properties so one palette in theme.css drives them, and re-read when `data-theme` changes.
 */
export interface ThemeColors {
  text: string;
  muted: string;
  grid: string;
  terminalBackground: string;
  terminalForeground: string;
  terminalCursor: string;
  terminalSelection: string;
}

export function readThemeColors(root: HTMLElement = document.documentElement): ThemeColors {
  const style = getComputedStyle(root);
  const v = (name: string, fallback: string): string => style.getPropertyValue(name).trim() || fallback;
  return {
    text: v('--text', '#1c2128'),
    muted: v('--muted', '#5f6b7a'),
    grid: v('--chart-grid', 'rgba(0,0,0,0.1)'),
    terminalBackground: v('--term-bg', '#000000'),
    terminalForeground: v('--term-fg', '#ffffff'),
    terminalCursor: v('--term-cursor', '#ffffff'),
    terminalSelection: v('--term-selection', 'rgba(255,255,255,0.3)'),
  };
}

/** Calls `listener` with fresh colors whenever the root's `data-theme` changes; returns the stop. */
export function onThemeColorsChange(listener: (colors: ThemeColors) => void, root: HTMLElement = document.documentElement): () => void {
  const observer = new MutationObserver(() => listener(readThemeColors(root)));
  observer.observe(root, { attributes: true, attributeFilter: ['data-theme'] });
  return () => observer.disconnect();
}

/** xterm's `theme` option from the palette. */
export function terminalTheme(colors: ThemeColors): { background: string; foreground: string; cursor: string; selectionBackground: string } {
  return { background: colors.terminalBackground, foreground: colors.terminalForeground, cursor: colors.terminalCursor, selectionBackground: colors.terminalSelection };
}
