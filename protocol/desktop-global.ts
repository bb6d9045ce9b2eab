/**
 * The name the desktop shell's preload exposes its bridge under: `window.tetherDesktop`. Apart
 * from the bridge's contract (desktop.ts) so the console's first script can check for it without
 * loading zod.
 */
export const DESKTOP_GLOBAL = 'tetherDesktop';
