/**
 * What a new user met in the console (issue 18): empty pages, navigation and layout, device
 * links, names and units, validation messages, presence. Screenshots of each state in both
 * themes are kept as test artifacts.
 */
import { appendFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Page, TestInfo } from '@playwright/test';
import { expect, test } from '@playwright/test';
import { createDeviceKeyAndCsr } from '../../agent/enrol/csr.js';
import { ADMIN_PASSWORD, api, cleanup, startBackend } from '../harness.js';
import { logIn, startStack, type Stack } from './stack.js';

let stack: Stack;
let token: string;
/** The longest name a device may have. */
const LONG_NAME = `long-${'x'.repeat(118)}-end`;
/** A one-use token, used up by the device with the long name (no agent runs for it). */
let usedUpTokenId: string;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  stack = await startStack({ env: { TETHER_TELEMETRY_INTERVAL_MS: '1000', TETHER_JOURNAL: '0' } });
  const login = await api(stack, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: ADMIN_PASSWORD } });
  token = (login.body as { token: string }).token;
  const created = await api(stack, 'POST', '/api/v1/tokens', { token, body: { uses: 1 } });
  usedUpTokenId = (created.body as { id: string }).id;
  const { csrPem } = await createDeviceKeyAndCsr();
  expect((await api(stack, 'POST', '/api/v1/agent/register', { body: { token: (created.body as { token: string }).token, csr: csrPem, name: LONG_NAME } })).status).toBe(200);
});

test.afterAll(async () => {
  await stack?.stop();
});

/** A screenshot of the page as it is, in the light and the dark theme, attached to the test. */
async function snap(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  for (const theme of ['light', 'dark'] as const) {
    await page.getByTestId('theme-toggle').selectOption(theme);
    await expect(page.locator('html')).toHaveAttribute('data-theme', theme);
    const path = testInfo.outputPath(`${name}-${theme}.png`);
    await page.screenshot({ path, fullPage: true });
    await testInfo.attach(`${name}-${theme}`, { path, contentType: 'image/png' });
  }
}

/** The page is no wider than the window: nothing pushes the layout sideways. */
async function expectNoSidewaysOverflow(page: Page): Promise<void> {
  expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth), `sideways overflow on ${page.url()}`).toBeLessThanOrEqual(0);
}

const rowOf = (page: Page, name: string) => page.getByTestId('device-row').filter({ has: page.getByTestId('device-name').getByText(name, { exact: true }) });

async function deviceIdOf(name: string): Promise<string> {
  const res = await api(stack, 'GET', '/api/v1/devices', { token });
  const id = (res.body as { devices: Array<{ id: string; name: string }> }).devices.find((d) => d.name === name)?.id;
  if (id === undefined) throw new Error(`no device ${name}`);
  return id;
}

test('pages with nothing in them say what they are for and offer the first action', async ({ page }, testInfo) => {
  test.setTimeout(120_000);
  // A backend of its own, as after a fresh install: `npm start` already made a token to enrol this machine.
  const fresh = await startBackend();
  try {
    await logIn(page, fresh.url);
    await expect(page.getByTestId('fleet-empty')).toBeVisible();
    await page.goto(`${fresh.url}#/tokens`);
    await expect(page.getByTestId('tokens-empty')).toContainText('lets new devices enrol');
    await expect(page.getByTestId('token-create')).toBeVisible();
    await snap(page, testInfo, 'tokens-empty');

    await page.goto(`${fresh.url}#/jobs`);
    await expect(page.getByTestId('jobs-empty')).toContainText('runs one command on many devices');
    await expect(page.getByTestId('job-review')).toBeVisible();
    await snap(page, testInfo, 'jobs-empty');

    await page.goto(`${fresh.url}#/alerts`);
    await expect(page.getByTestId('alert-rules-empty')).toContainText('Add the first rule');
    await expect(page.getByTestId('alert-events-empty')).toBeVisible();
    await snap(page, testInfo, 'alerts-empty');
  } finally {
    await fresh.stop();
    cleanup(fresh.home);
  }

  await logIn(page, stack.url);
  await expect(rowOf(page, hostname()).getByTestId('device-status')).toHaveText('online', { timeout: 30_000 });
  await page.goto(`${stack.url}#/devices/${await deviceIdOf(hostname())}/shell`);
  await page.getByTestId('recordings').locator('summary').click();
  await expect(page.getByTestId('recordings-empty')).toContainText('Every terminal session is recorded');
});

test('navigation, headers, long names, plurals, token states and presence read right', async ({ page }, testInfo) => {
  const tokenId = usedUpTokenId;
  const active = (await api(stack, 'POST', '/api/v1/tokens', { token, body: { uses: 5 } })).body as { id: string };

  await logIn(page, stack.url);
  await expect(rowOf(page, hostname()).getByTestId('device-status')).toHaveText('online', { timeout: 30_000 });

  // The top navigation: separate, spaced links, the current view marked (and only it).
  const users = await page.getByTestId('nav-users').boundingBox();
  const tokens = await page.getByTestId('nav-tokens').boundingBox();
  expect(users && tokens && tokens.x - (users.x + users.width)).toBeGreaterThanOrEqual(2);
  expect(await page.getByTestId('nav-users').evaluate((el) => parseFloat(getComputedStyle(el).paddingLeft))).toBeGreaterThan(0);
  await expect(page.locator('.top-nav a[aria-current="page"]')).toHaveCount(1);
  await expect(page.getByTestId('nav-fleet')).toHaveAttribute('aria-current', 'page');

  // Column headers are not cut off.
  const cut = await page.locator('.fleet-header [role="columnheader"]').evaluateAll((cells) => cells.filter((c) => c.scrollWidth > c.clientWidth).map((c) => `${c.textContent} ${c.scrollWidth}>${c.clientWidth}`));
  expect(cut).toEqual([]);

  // Presence: an online device reads "online" (true however long it stays), one never connected "never".
  await expect(rowOf(page, hostname()).getByTestId('device-last-seen')).toHaveText('online');
  const long = rowOf(page, LONG_NAME);
  await expect(long.getByTestId('device-last-seen')).toHaveText('never');

  // The longest name: cut with an ellipsis, whole in the tooltip, and the page keeps its width.
  await expect(long.locator('.device-name')).toHaveAttribute('title', new RegExp(`^${LONG_NAME}`));
  expect(await long.locator('.device-name').evaluate((el) => el.scrollWidth > el.clientWidth)).toBe(true);
  await expectNoSidewaysOverflow(page);
  await long.getByTestId('device-name').click();
  await expect(page.getByTestId('details-name')).toHaveAttribute('title', LONG_NAME);
  await expectNoSidewaysOverflow(page);
  await snap(page, testInfo, 'fleet-long-name');
  const longId = await deviceIdOf(LONG_NAME);
  for (const [hash, testId] of [[`#/metrics/${longId}`, 'metrics-device-name'], [`#/devices/${longId}/logs`, 'log-device-name'], [`#/devices/${longId}/config`, 'config-device-name'], [`#/devices/${longId}/files`, 'files-device-name']] as const) {
    await page.goto(`${stack.url}${hash}`);
    await expect(page.getByTestId(testId)).toHaveAttribute('title', LONG_NAME);
    await expectNoSidewaysOverflow(page);
  }

  // Tokens: a used-up token says so; an active one can be revoked and then says that.
  await page.goto(`${stack.url}#/tokens`);
  await expect(page.locator(`[data-testid="token-row"][data-token-id="${tokenId}"]`).getByTestId('token-state')).toHaveText('used up');
  const activeRow = page.locator(`[data-testid="token-row"][data-token-id="${active.id}"]`);
  await expect(activeRow.getByTestId('token-state')).toHaveText('active');
  await expect(page.locator(`[data-testid="token-row"][data-token-id="${tokenId}"]`).getByTestId('token-revoke')).toHaveCount(0);
  await snap(page, testInfo, 'tokens');
  await activeRow.getByTestId('token-revoke').click();
  await expect(activeRow.getByTestId('token-state')).toHaveText('revoked');

  // "1 device", not "1 devices".
  await page.goto(`${stack.url}#/jobs`);
  await expect(page.getByTestId('nav-jobs')).toHaveAttribute('aria-current', 'page');
  await expect(page.getByTestId('nav-fleet')).not.toHaveAttribute('aria-current', 'page');
  await page.getByTestId('job-command').fill('true');
  // By id: the host name ("vm" here) may also be in the long-named device's random id.
  await page.getByTestId('job-query').fill(await deviceIdOf(hostname()));
  await page.getByTestId('job-review').click();
  await expect(page.getByTestId('job-start')).toHaveText('Run on 1 device');
});

test("a device's Logs and Config links open that device's logs and config; fleet-wide lines name their device", async ({ page }, testInfo) => {
  const id = await deviceIdOf(hostname());
  await logIn(page, stack.url);
  const row = rowOf(page, hostname());
  await expect(row.getByTestId('device-status')).toHaveText('online', { timeout: 30_000 });
  await row.getByTestId('device-name').click();

  await page.getByTestId('details-logs').click();
  await expect(page).toHaveURL(new RegExp(`#/devices/${id}/logs$`));
  await expect(page.getByTestId('log-view')).toHaveAttribute('data-device-id', id);
  await expect(page.getByTestId('log-device-name')).toHaveText(hostname());
  const marker = `polish-${Date.now()}`;
  appendFileSync(stack.logFile, `ERROR pump ${marker} stalled\n`);
  await expect(async () => {
    await page.getByTestId('log-search-input').fill(marker);
    await page.getByTestId('log-search-submit').click();
    await expect(page.getByTestId('log-result')).toHaveCount(1, { timeout: 1_000 });
  }).toPass({ timeout: 30_000 });
  await expect(page.getByTestId('logs-no-sources')).toHaveCount(0);

  // The fleet-wide view names the device on each line.
  await page.getByTestId('nav-logs').click();
  await page.getByTestId('log-search-input').fill(marker);
  await page.getByTestId('log-search-submit').click();
  await expect(page.getByTestId('log-result').getByTestId('log-device')).toHaveText(hostname());
  await snap(page, testInfo, 'logs-fleet');

  // A device that never sent a line is told how to add log sources.
  const longId = await deviceIdOf(LONG_NAME);
  await page.goto(`${stack.url}#/devices/${longId}/logs`);
  await expect(page.getByTestId('logs-no-sources')).toContainText('logSources');
  await snap(page, testInfo, 'logs-no-sources');

  // Config: the device's own override layer and effective config, its row alone.
  await page.goto(`${stack.url}#/`);
  await rowOf(page, hostname()).getByTestId('device-name').click();
  await page.getByTestId('details-config').click();
  await expect(page).toHaveURL(new RegExp(`#/devices/${id}/config$`));
  await expect(page.getByTestId('config-editor-layer')).toHaveAttribute('data-layer-id', `device:${id}`);
  await expect(page.getByTestId('config-editor-layer')).toHaveText(`device: ${hostname()}`);
  await expect(page.getByTestId('config-effective')).toHaveAttribute('data-device-id', id);
  await expect(page.getByTestId('config-status-row')).toHaveCount(1);
  await snap(page, testInfo, 'config-device');

  // Every device page links to this device's other views, not the fleet-wide ones.
  await page.goto(`${stack.url}#/devices/${id}/shell`);
  await page.getByTestId('device-link-logs').click();
  await expect(page).toHaveURL(new RegExp(`#/devices/${id}/logs$`));
  await page.getByTestId('device-link-config').click();
  await expect(page).toHaveURL(new RegExp(`#/devices/${id}/config$`));
  await expect(page.getByTestId('device-link-config')).toHaveAttribute('aria-current', 'page');
});

test('names, rounded values and units where people read them', async ({ page }, testInfo) => {
  const id = await deviceIdOf(hostname());
  await logIn(page, stack.url);
  await expect(rowOf(page, hostname()).getByTestId('device-status')).toHaveText('online', { timeout: 30_000 });

  // Charts: human series labels, the metric name in their tooltip.
  await page.goto(`${stack.url}#/metrics/${id}`);
  const network = page.locator('[data-testid="metric-chart"][data-metric="net.rx_bps,net.tx_bps"]');
  await expect(network.getByTestId('chart-legend').locator('li')).toHaveText(['Received', 'Sent']);
  await expect(network.getByTestId('chart-legend').locator('li').first()).toHaveAttribute('title', 'net.rx_bps');
  await snap(page, testInfo, 'metrics');

  // An alert rule made in the form reads with the metric's label and unit.
  await page.goto(`${stack.url}#/alerts`);
  await page.getByLabel('Name', { exact: true }).fill('Hot CPU');
  await page.getByLabel('Threshold', { exact: true }).fill('92.5');
  await page.getByTestId('alert-rule-create').click();
  await expect(page.getByTestId('alert-rule-condition')).toHaveText('CPU > 92.5 %');
  await expect(page.getByTestId('alert-rule-condition')).toHaveAttribute('title', 'cpu.total');
  // A rule that fires at once: its event names the device and rounds the value, with its unit.
  expect((await api(stack, 'POST', '/api/v1/alerts/rules', { token, body: { name: 'Always', condition: { kind: 'metric', metric: 'cpu.total', comparison: '>=', threshold: 0 }, forMs: 0 } })).status).toBeLessThan(300);
  await page.reload();
  const event = page.getByTestId('alert-event').filter({ hasText: 'Always' }).first();
  await expect(event.getByTestId('alert-event-device')).toHaveText(hostname(), { timeout: 20_000 });
  await expect(event.getByTestId('alert-event-value')).toHaveText(/^ \(\d+(\.\d)? %\)$/);
  await snap(page, testInfo, 'alerts');

  // A job's runs name their device.
  const job = await api(stack, 'POST', '/api/v1/jobs', { token, body: { command: { shell: 'echo named' }, selection: { deviceIds: [id] } } });
  await page.goto(`${stack.url}#/jobs/${(job.body as { id: string }).id}`);
  await expect(page.getByTestId('job-run-device')).toHaveText(hostname());
  await expect(page.getByTestId('job-run-device')).toHaveAttribute('title', id);
  await expect(page.getByTestId('job-title')).toContainText('echo named');
});

test("the server's validation message shows beside the input it is about", async ({ page }, testInfo) => {
  await logIn(page, stack.url);
  await page.goto(`${stack.url}#/users`);
  await page.getByTestId('user-new-name').fill('no spaces allowed');
  await page.getByTestId('user-new-password').fill('a long enough password 1');
  await page.getByTestId('user-add').click();
  const error = page.locator('label').filter({ has: page.getByTestId('user-new-name') }).getByTestId('field-error');
  await expect(error).toHaveAttribute('data-field', '/username');
  await expect(error).toHaveAttribute('data-code', 'BAD_REQUEST');
  await expect(error).not.toContainText('The request is malformed');
  await expect(error).not.toHaveText('');
  await expect(page.getByTestId('user-new-name')).toHaveAttribute('aria-invalid', 'true');
  await snap(page, testInfo, 'users-validation');
});

test('the config editor marks errors at their line, formats, and shows the effective result before saving', async ({ page }, testInfo) => {
  const id = await deviceIdOf(hostname());
  await logIn(page, stack.url);
  await page.goto(`${stack.url}#/devices/${id}/config`);
  await expect(page.getByTestId('config-editor-layer')).toHaveAttribute('data-layer-id', `device:${id}`);
  await expect(page.getByTestId('config-effective')).toBeVisible();
  const editor = page.getByTestId('config-editor');
  const check = page.getByTestId('config-validation');

  // A schema error is shown at the line of the key it names.
  await editor.fill('{\n  "agent": {\n    "samplingIntervalMs": 1\n  }\n}\n');
  await expect(check).toHaveAttribute('data-code', 'CONFIG_SCHEMA_VIOLATION');
  await expect(page.getByTestId('config-error')).toHaveAttribute('data-line', '3');
  await expect(page.locator('[data-testid="config-error-line"]')).toHaveAttribute('data-line', '3');
  await snap(page, testInfo, 'config-error-line');

  // Broken JSON: at its line too (where the engine says), and nothing to format.
  await editor.fill('{\n  "app": {\n    "a": 1,\n  }\n}\n');
  await expect(check).toHaveAttribute('data-code', 'JSON');
  await expect(page.getByTestId('config-error')).toHaveAttribute('data-line', '4');
  await expect(page.getByTestId('config-format')).toBeDisabled();

  // Format pretty-prints; the preview shows what the device would get, before any save.
  await editor.fill('{"app":{"greeting":"from the preview"}}');
  await page.getByTestId('config-format').click();
  await expect(editor).toHaveValue('{\n  "app": {\n    "greeting": "from the preview"\n  }\n}\n');
  await expect(check).toHaveAttribute('data-state', 'ok');
  const preview = page.getByTestId('config-preview');
  await expect(preview).toHaveAttribute('data-device-id', id);
  await expect(preview.getByTestId('config-preview-json')).toContainText('"greeting": "from the preview"');
  await expect(preview.getByTestId('config-preview-change')).toHaveAttribute('data-path', '/app/greeting');
  await expect(page.getByTestId('config-effective')).not.toContainText('from the preview');
  await snap(page, testInfo, 'config-preview');
});
