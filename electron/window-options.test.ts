import { readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { BrowserWindowConstructorOptions } from 'electron';
import { describe, expect, it } from 'vitest';
import { APP_INDEX_URL } from './app-protocol.js';
import { appPaths } from './app-paths.js';
import { desktopCsp } from './csp.js';
import { decideNavigation, decideWindowOpen } from './navigation.js';
import { consoleWindowOptions, terminalWindowOptions } from './window-options.js';

const MAIN_FILE = '/opt/Tether/resources/app.asar/dist-electron/main.mjs';
const { preload, appRoot } = appPaths(MAIN_FILE);

/** Every kind of window the app opens, by the builder main.ts uses for it. */
const WINDOWS: Record<string, BrowserWindowConstructorOptions> = {
  consoleWindowOptions: consoleWindowOptions(preload),
  'consoleWindowOptions (restored bounds)': consoleWindowOptions(preload, { x: 10, y: 10, width: 900, height: 700 }),
  terminalWindowOptions: terminalWindowOptions(preload, 'dev_abcdefghijklmnopqrst'),
};

describe('every window the app creates', () => {
  it.each(Object.entries(WINDOWS))('%s isolates the page: sandbox, context isolation, no Node, web security on', (_name, options) => {
    expect(options.webPreferences).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      experimentalFeatures: false,
    });
    // Shown on `ready-to-show`, so the user never sees a blank white frame.
    expect(options.show).toBe(false);
  });

  it.each(Object.entries(WINDOWS))('%s loads the preload from inside the app bundle', (_name, options) => {
    const path = options.webPreferences?.preload ?? '';
    const inside = relative(appRoot, path);
    expect(inside).toBe(join('dist-electron', 'preload.cjs'));
    expect(inside.startsWith('..')).toBe(false);
  });

  it('has a builder here for every `new BrowserWindow(...)` in main.ts', () => {
    // A window opened with inline options would escape the checks above.
    const source = readFileSync(resolve(import.meta.dirname, 'main.ts'), 'utf8');
    const created = [...source.matchAll(/new BrowserWindow\(([A-Za-z]+)\(/g)].map((m) => m[1]);
    expect(source.match(/new BrowserWindow\(/g)?.length).toBe(created.length);
    expect(new Set(created)).toEqual(new Set(['consoleWindowOptions', 'terminalWindowOptions']));
  });

  it('is governed by a CSP without inline or eval script and without plugins', () => {
    for (const policy of [desktopCsp(null), desktopCsp({ httpOrigin: 'https://fleet.example', wsOrigin: 'wss://fleet.example' })]) {
      for (const text of [policy.header, policy.meta]) {
        expect(text).toMatch(/(^|; )script-src 'self'(;|$)/);
        expect(text).toContain("object-src 'none'");
        expect(text).toContain("base-uri 'none'");
        expect(text).not.toMatch(/unsafe-eval|unsafe-inline|unsafe-hashes|wasm-unsafe-eval|\bdata:[^;]*script|\*/);
      }
    }
  });

  it('may not navigate away from the bundle nor open windows of its own', () => {
    expect(decideNavigation('app://tether/index.html#/jobs', APP_INDEX_URL)).toEqual({ action: 'allow' });
    expect(decideNavigation('https://fleet.example/', APP_INDEX_URL)).toEqual({ action: 'deny', openExternally: true });
    expect(decideNavigation('file:///etc/passwd', APP_INDEX_URL)).toEqual({ action: 'deny', openExternally: false });
    expect(decideNavigation('app://other/index.html', APP_INDEX_URL)).toEqual({ action: 'deny', openExternally: false });
    expect(decideWindowOpen('app://tether/index.html')).toEqual({ action: 'deny', openExternally: false });
  });
});
