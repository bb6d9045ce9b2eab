import { defineConfig } from '@playwright/test';

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
  ],
});
