import { DESKTOP_GLOBAL } from '../../protocol/desktop-global.js';

/**
 * Whether the page runs in the desktop app: its preload exposes the bridge as `window.tetherDesktop`.
 * Zod-free, so the page's entry can ask before the console's code is loaded (boot.ts).
 */
export function inDesktopApp(scope: object): boolean {
  return DESKTOP_GLOBAL in scope && scope[DESKTOP_GLOBAL] !== undefined && scope[DESKTOP_GLOBAL] !== null;
}
