/**
 * The console specs' `test`: the same bodies run against the web console in Chromium
 * (project `chromium-web`, Playwright's own `page`) and against the desktop app (project
 * `electron-desktop`: `page` is the Electron console window, launched against the stack the
 * spec started, pinned to its CA). Where no Electron binary is installed the desktop project's
 * tests are skipped with the reason printed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { _electron as electron, test as base, type Page } from '@playwright/test';
import { bundleElectronMain, electronBinary } from '../../build/electron/bundle-main.js';
import { caPin } from '../../channel/pin.js';
import { currentStack } from './stack.js';

export { expect } from '@playwright/test';

export const ELECTRON_PROJECT = 'electron-desktop';

let reported = false;

export const test = base.extend({
  page: async ({ page }, use, testInfo) => {
    if (testInfo.project.name !== ELECTRON_PROJECT) {
      await use(page);
      return;
    }
    const binary = electronBinary();
    if ('reason' in binary) {
      if (!reported) console.log(`[electron e2e] skipped: ${binary.reason}`);
      reported = true;
      testInfo.skip(true, binary.reason);
      return;
    }
    const stack = currentStack();
    if (stack === null) throw new Error('the spec started no stack (startStack) for the desktop app to connect to');
    const userData = mkdtempSync(join(tmpdir(), 'tether-desktop-'));
    const app = await electron.launch({
      executablePath: binary.path,
      args: [await bundleElectronMain(), `--console-url=${stack.url}`, `--ca-pin=${caPin(stack.caCertPem)}`, '--no-sandbox'],
      env: { ...process.env, TETHER_DESKTOP_USER_DATA: userData },
    });
    try {
      const window: Page = await app.firstWindow();
      await use(window);
    } finally {
      await app.close();
      rmSync(userData, { recursive: true, force: true });
    }
  },
});
