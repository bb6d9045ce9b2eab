import type { BrowserWindowConstructorOptions } from 'electron';

/**
 * The console window. The renderer is a web page that talks to the backend over HTTPS/WSS
 * only, so it gets no Node, no Electron and no preload (ARCHITECTURE §7): a compromised page
 * has exactly the powers of a browser tab.
 */
export function consoleWindowOptions(): BrowserWindowConstructorOptions {
  return {
    width: 1280,
    height: 820,
    minWidth: 720,
    minHeight: 480,
    title: 'Tether',
    // Shown on `ready-to-show`, so the user never sees a blank white frame.
    show: false,
    webPreferences: {
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
    },
  };
}
