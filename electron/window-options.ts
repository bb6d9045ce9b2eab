import type { BrowserWindowConstructorOptions, WebPreferences } from 'electron';

/**
 * The web preferences of every window the app creates. The page is the console bundle served
 * from app://; it gets no Node and no Electron, only the preload's typed bridge in an isolated
 * world (ARCHITECTURE §7), so a compromised page has a browser tab's powers plus the few
 * operations of DESKTOP_API, each checked in the main process.
 */
export function secureWebPreferences(preload: string): WebPreferences {
  return {
    preload,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    experimentalFeatures: false,
    navigateOnDragDrop: false,
    safeDialogs: true,
    spellcheck: false,
  };
}

export interface WindowBounds {
  x?: number;
  y?: number;
  width: number;
  height: number;
}

export const CONSOLE_DEFAULT_SIZE = { width: 1280, height: 820 } as const;
export const CONSOLE_MIN_SIZE = { width: 720, height: 480 } as const;

/** The console window, at its remembered place when there is one. */
export function consoleWindowOptions(preload: string, bounds: WindowBounds = CONSOLE_DEFAULT_SIZE): BrowserWindowConstructorOptions {
  return {
    ...bounds,
    minWidth: CONSOLE_MIN_SIZE.width,
    minHeight: CONSOLE_MIN_SIZE.height,
    title: 'Tether',
    // Shown on `ready-to-show`, so the user never sees a blank white frame.
    show: false,
    webPreferences: secureWebPreferences(preload),
  };
}

/** A terminal popped out of the console: the same page and the same locks, opened on the device's shell route. */
export function terminalWindowOptions(preload: string, deviceName: string): BrowserWindowConstructorOptions {
  return {
    width: 960,
    height: 600,
    minWidth: 480,
    minHeight: 320,
    title: `Terminal — ${deviceName}`,
    show: false,
    webPreferences: secureWebPreferences(preload),
  };
}
