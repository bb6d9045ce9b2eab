/**
 * Every console view in both themes, checked by axe-core in Chromium against WCAG 2 A/AA
 * (text contrast, labels, names), with a screenshot of each kept as a test artifact.
 */
import { appendFileSync } from 'node:fs';
import { hostname } from 'node:os';
import AxeBuilder from '@axe-core/playwright';
import type { Page, TestInfo } from '@playwright/test';
import { expect, test } from '@playwright/test';
import { createDeviceKeyAndCsr } from '../../agent/enrol/csr.js';
import { ADMIN_PASSWORD, api } from '../harness.js';
import { logIn, startStack, type Stack } from './stack.js';

let stack: Stack;
/** The longest name a device may have: the views must still fit it. */
const LONG_NAME = `long-${'x'.repeat(118)}-end`;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  // /bin/sh: the machine user's interactive rc files are not under test (see shell.spec.ts).
  stack = await startStack({ env: { TETHER_TELEMETRY_INTERVAL_MS: '1000', TETHER_JOURNAL: '0', TETHER_SHELL: '/bin/sh' } });
  // Something in every view, so what is checked is what people see: a used-up token and the
  // device it enrolled (with the longest name), an alert rule, log lines of each level, a job.
  const login = await api(stack, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: ADMIN_PASSWORD } });
  const token = (login.body as { token: string }).token;
  const created = await api(stack, 'POST', '/api/v1/tokens', { token, body: { uses: 1 } });
  const { csrPem } = await createDeviceKeyAndCsr();
  expect((await api(stack, 'POST', '/api/v1/agent/register', { body: { token: (created.body as { token: string }).token, csr: csrPem, name: LONG_NAME } })).status).toBe(200);
  expect((await api(stack, 'POST', '/api/v1/alerts/rules', { token, body: { name: 'CPU hot', condition: { kind: 'metric', metric: 'cpu.total', comparison: '>', threshold: 99.5 }, forMs: 60_000 } })).status).toBeLessThan(300);
  let deviceId = '';
  await expect
    .poll(async () => {
      const { devices } = (await api(stack, 'GET', '/api/v1/devices', { token })).body as { devices: Array<{ id: string; name: string; online: boolean }> };
      deviceId = devices.find((d) => d.name === hostname() && d.online)?.id ?? '';
      return deviceId;
    }, { timeout: 30_000 })
    .not.toBe('');
  appendFileSync(stack.logFile, 'INFO boot complete\nWARNING battery low\nERROR motor stalled\n');
  // Queued should the device be offline: an agent that reconnects in this moment (a loaded
  // machine) must not fail the job. Selected by id: a query for the host name (here "vm") also
  // matched the offline long-named device whenever its random id held those letters, and that run
  // then waited for it until the job expired.
  const job = await api(stack, 'POST', '/api/v1/jobs', { token, body: { command: { shell: 'echo job-output' }, selection: { deviceIds: [deviceId] }, queueOffline: true } });
  expect(job.status).toBeLessThan(300);
  // The views are checked with the job's output in them: wait here for the run to end, so a slow
  // delivery (a loaded machine) is not mistaken for a view that shows nothing.
  const jobId = (job.body as { id: string }).id;
  await expect
    .poll(async () => ((await api(stack, 'GET', `/api/v1/jobs/${jobId}`, { token })).body as { state: string }).state, { timeout: 60_000 })
    .toBe('completed');
});

test.afterAll(async () => {
  await stack?.stop();
});

/** What axe found on the page, one line per failing element, with its reason (the contrast ratio for contrast). */
async function audit(page: Page, view: string, theme: string, testInfo: TestInfo): Promise<string[]> {
  const path = testInfo.outputPath(`${view}-${theme}.png`);
  await page.screenshot({ path, fullPage: true });
  await testInfo.attach(`${view}-${theme}`, { path, contentType: 'image/png' });
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa']).analyze();
  return results.violations.flatMap((v) =>
    v.nodes.map((n) => `${view} [${theme}] ${v.id}: ${n.target.join(' ')} — ${(n.failureSummary ?? '').replace(/\s+/g, ' ').slice(0, 200)}`),
  );
}

for (const theme of ['light', 'dark'] as const) {
  test(`every view passes WCAG AA (contrast, labels) in the ${theme} theme`, async ({ page }, testInfo) => {
    test.setTimeout(120_000);
    await page.emulateMedia({ colorScheme: theme });
    const found: string[] = [];

    await page.goto(stack.url);
    await expect(page.getByTestId('login-username')).toBeVisible();
    await expect(page.locator('html')).toHaveAttribute('data-theme', theme);
    found.push(...(await audit(page, 'login', theme, testInfo)));

    await logIn(page, stack.url);
    const row = page.getByTestId('device-row').filter({ has: page.getByTestId('device-name').getByText(hostname(), { exact: true }) });
    await expect(row.getByTestId('device-status')).toHaveText('online', { timeout: 30_000 });
    const deviceId = await row.getAttribute('data-device-id');
    found.push(...(await audit(page, 'fleet', theme, testInfo)));

    await row.getByTestId('device-name').click();
    await expect(page.getByTestId('device-details')).toBeVisible();
    found.push(...(await audit(page, 'device-details', theme, testInfo)));

    // The active terminal tab among others (the dark theme's unreadable label).
    await page.goto(`${stack.url}#/devices/${deviceId}/shell`);
    await expect(page.locator('[data-testid="terminal-pane"]:not([hidden])')).toHaveAttribute('data-status', 'open', { timeout: 15_000 });
    await page.getByTestId('terminal-new-tab').click();
    await expect(page.getByTestId('terminal-tab')).toHaveCount(2);
    await expect(page.locator('[data-testid="terminal-pane"]:not([hidden])')).toHaveAttribute('data-status', 'open', { timeout: 15_000 });
    await page.getByTestId('command-panel').locator('summary').click();
    await page.getByTestId('recordings').locator('summary').click();
    found.push(...(await audit(page, 'shell', theme, testInfo)));
    // A recording playing in its dialog (the first tab's session, ended by `exit`).
    await page.locator('[data-testid="terminal-pane"]:not([hidden])').getByTestId('terminal').click();
    await page.keyboard.type('exit');
    await page.keyboard.press('Enter');
    await expect(page.locator('[data-testid="terminal-pane"]:not([hidden])')).toHaveAttribute('data-status', 'ended');
    await page.reload();
    await page.getByTestId('recordings').locator('summary').click();
    await page.getByTestId('recording').filter({ hasText: 'exit 0' }).first().getByTestId('recording-play').click();
    await expect(page.getByTestId('recording-toggle')).toHaveText('Play', { timeout: 20_000 });
    found.push(...(await audit(page, 'recording', theme, testInfo)));
    await page.getByTestId('recording-close').click();

    const views: Array<[string, string, string]> = [
      ['metrics', `#/metrics/${deviceId}`, 'device-metrics'],
      ['files', `#/devices/${deviceId}/files`, 'files-view'],
      ['logs', '#/logs', 'log-view'],
      ['logs-search', '#/logs', 'log-view'],
      ['alerts', '#/alerts', 'alerts-view'],
      ['jobs', '#/jobs', 'jobs-view'],
      ['config', '#/config', 'config-view'],
      ['users', '#/users', 'users-view'],
      ['tokens', '#/tokens', 'tokens-view'],
      ['audit', '#/audit', 'audit-view'],
      ['account', '#/account', 'account-view'],
    ];
    for (const [view, hash, testId] of views) {
      await page.goto(`${stack.url}${hash}`);
      await expect(page.getByTestId(testId)).toBeVisible();
      // Let the view's first data arrive, so what is checked is what people see.
      await page.waitForLoadState('networkidle');
      if (view === 'jobs') {
        await page.getByTestId('job-row').first().getByRole('button', { name: 'Details' }).click();
        await expect(page.getByTestId('job-run-output').first()).toContainText('job-output', { timeout: 15_000 });
        await page.getByTestId('job-command').fill('true');
        await page.getByTestId('job-query').fill(hostname());
        await page.getByTestId('job-review').click();
        await expect(page.getByTestId('job-confirm')).toBeVisible();
      }
      if (view === 'config') {
        await page.getByTestId('config-editor').fill('{\n  "agent": { "samplingIntervalMs": 1 }\n}\n');
        await expect(page.getByTestId('config-error-line')).toBeVisible();
      }
      if (view === 'logs-search') {
        // The lines reach the store with the agent's next telemetry batch: search until they are there.
        await expect(async () => {
          await page.getByTestId('log-search-submit').click();
          await expect(page.getByTestId('log-result').filter({ hasText: 'motor stalled' })).toHaveCount(1, { timeout: 1_000 });
        }).toPass({ timeout: 30_000 });
      }
      found.push(...(await audit(page, view, theme, testInfo)));
    }

    expect(found).toEqual([]);
  });
}
