import { defineConfig } from '@playwright/test';
import { electronBinary } from './build/electron/bundle-main.js';

/** The console specs that also run in the desktop app (test/e2e/console-test.ts gives them its window as `page`). */
const DESKTOP_SPECS = ['fleet.spec.ts', 'shell.spec.ts'];
const electron = electronBinary();
// Without a binary the desktop project runs nothing (its specs would start a stack only to skip), and says why.
if ('reason' in electron) console.log(`[electron e2e] desktop project skipped: ${electron.reason}`);

/**
 * Browser tests of the web console (ARCHITECTURE §1, `test/`). The specs start their own
 * backend; run `npm run build:console` first so it has a console to serve.
 */
export default defineConfig({
  testDir: 'test/e2e',
  timeout: 60_000,
  workers: 1,
  retries: 0,
  fullyParallel: false,
  forbidOnly: true,
  reporter: 'list',
  use: {
    headless: true,
    // The backend serves TLS with its own CA, which this browser does not know.
    ignoreHTTPSErrors: true,
    trace: 'retain-on-failure',
  },
  projects: [
    {
      name: 'chromium-web',
      use: {
        browserName: 'chromium',
        launchOptions: {
          executablePath: '/usr/bin/chromium',
          args: [
            '--no-sandbox',
            '--disable-gpu',
            '--disable-background-networking',
            '--disable-component-update',
            '--no-first-run',
            '--disable-quic',
            '--disable-sync',
          ],
        },
      },
    },
    {
      name: 'electron-desktop',
      testMatch: DESKTOP_SPECS,
      testIgnore: 'reason' in electron ? '**/*' : [],
      use: { browserName: 'chromium', launchOptions: { executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] } },
    },
  ],
});
