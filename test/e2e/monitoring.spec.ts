import { appendFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { expect, test } from '@playwright/test';
import { logIn, startStack, type Stack } from './stack.js';

let stack: Stack;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  stack = await startStack({ env: { TETHER_TELEMETRY_INTERVAL_MS: '1000', TETHER_JOURNAL: '0' } });
});

test.afterAll(async () => {
  await stack?.stop();
});

test('the fleet table and the device chart update live; a device log line reaches the live tail and search', async ({ page }) => {
  test.setTimeout(90_000);
  await logIn(page, stack.url);

  const row = page.getByTestId('device-row').filter({ has: page.getByTestId('device-name').getByText(hostname(), { exact: true }) });
  await expect(row.getByTestId('device-status')).toHaveText('online', { timeout: 30_000 });
  // Fleet gauges come from the coalesced live feed.
  await expect(row.getByTestId('device-cpu')).toHaveText(/^\d+ %$/, { timeout: 15_000 });
  await expect(row.getByTestId('device-mem')).toHaveText(/^\d+ %$/);

  await row.getByTestId('device-metrics-link').click();
  const canvas = page.locator('[data-testid="metric-chart"][data-metric="cpu.total"]').getByTestId('metric-chart-canvas');
  await expect(canvas).toHaveAttribute('data-points', /^[1-9]\d*$/, { timeout: 15_000 });
  const before = Number(await canvas.getAttribute('data-points'));
  // New samples arrive over the socket and are drawn without a reload.
  await expect.poll(async () => Number(await canvas.getAttribute('data-points')), { timeout: 15_000 }).toBeGreaterThan(before);

  await page.getByTestId('nav-logs').click();
  await expect(page.getByTestId('log-view')).toBeVisible();
  // The tail shows lines stored after its subscription reached the backend, which the page does
  // not signal: write numbered lines until one shows in the tail, then search for that one.
  const base = `e2emarker${Date.now()}n`;
  let written = 0;
  let marker = '';
  await expect.poll(async () => {
    appendFileSync(stack.logFile, `WARNING battery bay ${base}${++written} opened\n`);
    marker = new RegExp(`${base}\\d+`).exec((await page.getByTestId('log-tail').textContent()) ?? '')?.[0] ?? '';
    return marker;
  }, { timeout: 15_000 }).not.toBe('');
  await page.getByTestId('log-search-input').fill(marker);
  await page.getByTestId('log-search-submit').click();
  await expect(page.getByTestId('log-result')).toHaveCount(1);
  await expect(page.getByTestId('log-result')).toContainText(`battery bay ${marker} opened`);
});
