import { hostname } from 'node:os';
import type { Page } from '@playwright/test';
import { expect, test } from './console-test.js';
import { ADMIN_PASSWORD, api } from '../harness.js';
import { logIn, startStack, type Stack } from './stack.js';

let stack: Stack;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  // A plain POSIX shell: the machine user's interactive rc files are not under test, and one that
  // takes seconds to start (a pyenv init in root's ~/.bashrc took 20 s on a development machine)
  // would hide the prompt for longer than these waits.
  stack = await startStack({ env: { TETHER_SHELL: '/bin/sh' } });
});

test.afterAll(async () => {
  await stack?.stop();
});

async function signIn(page: Page): Promise<void> {
  await logIn(page, stack.url);
  await expect(page.getByTestId('fleet-table')).toBeVisible();
}

test('open a terminal on this machine, type a command and see its output; a second tab is its own session', async ({ page }, testInfo) => {
  const violations: string[] = [];
  page.on('console', (msg) => {
    // xterm inserts <style> elements, which the strict CSP blocks and reports; their rules reach
    // the page through constructed stylesheets instead (renderer/shell/csp-style-mirror.ts).
    // Anything else the policy blocks (a script, a connection) fails the test.
    if (/Content Security Policy/i.test(msg.text()) && !/Applying inline style/.test(msg.text())) violations.push(msg.text());
  });
  await signIn(page);
  const row = page.getByTestId('device-row').filter({ has: page.getByTestId('device-name').getByText(hostname()) });
  await expect(row.getByTestId('device-status')).toHaveText('online', { timeout: 30_000 });
  await row.getByTestId('device-terminal').click();

  const pane = page.locator('[data-testid="terminal-pane"]:not([hidden])');
  await expect(pane).toHaveAttribute('data-status', 'open', { timeout: 15_000 });
  await pane.getByTestId('terminal').click();
  await page.keyboard.type('echo e2e-$((6*7))-ok');
  await page.keyboard.press('Enter');
  await expect(pane.locator('.xterm-rows')).toContainText('e2e-42-ok', { timeout: 10_000 });

  await page.getByTestId('terminal-new-tab').click();
  await expect(page.getByTestId('terminal-tab')).toHaveCount(2);
  const second = page.locator('[data-testid="terminal-pane"]:not([hidden])');
  await expect(second).toHaveAttribute('data-status', 'open', { timeout: 15_000 });
  await expect(second.locator('.xterm-rows')).not.toContainText('e2e-42-ok');
  await second.getByTestId('terminal').click();
  await page.keyboard.type('stty size');
  await page.keyboard.press('Enter');
  // The PTY has the size xterm fitted to its box, not a default 80x24.
  await expect(second.locator('.xterm-rows')).toContainText(/\d+ \d+/);
  // The mirrored xterm rules apply: rows have the measured line height, not zero.
  expect(await second.locator('.xterm-rows > div').first().evaluate((el) => el.getBoundingClientRect().height)).toBeGreaterThan(8);
  await page.screenshot({ path: 'test-results/shell-terminal.png' });
  expect(violations).toEqual([]);

  // Closing the second tab ends its session on the device at once, not after the resume grace period.
  const login = await api(stack, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: ADMIN_PASSWORD } });
  const token = (login.body as { token: string }).token;
  const deviceId = /#\/devices\/([^/]+)\/shell/.exec(page.url())?.[1] ?? '';
  const sessions = async () => ((await api(stack, 'GET', `/api/v1/shell/sessions?deviceId=${deviceId}`, { token })).body as { sessions: Array<{ live: boolean; endCode: string | null }> }).sessions;
  expect((await sessions()).filter((s) => s.live)).toHaveLength(2);
  await page.getByTestId('terminal-tab').nth(1).getByTestId('terminal-close').click();
  await expect(page.getByTestId('terminal-tab')).toHaveCount(1);
  await expect.poll(async () => (await sessions()).filter((s) => s.live).length, { timeout: 3_000 }).toBe(1);
  expect((await sessions()).filter((s) => s.endCode === 'SHELL_CLOSED')).toHaveLength(1);

  // End the first session, then play its recording back in the console.
  const first = page.locator('[data-testid="terminal-pane"]:not([hidden])');
  await first.getByTestId('terminal').click();
  await page.keyboard.type('exit');
  await page.keyboard.press('Enter');
  await expect(first).toHaveAttribute('data-status', 'ended');
  await page.reload();
  await page.getByTestId('recordings').locator('summary').click();
  // The first session ended by `exit`; the closed tab's recording is listed too.
  const live = page.locator('[data-testid="terminal-pane"]:not([hidden])');
  await expect(live).toHaveAttribute('data-status', 'open', { timeout: 15_000 });
  const before = await live.boundingBox();
  await page.getByTestId('recording').filter({ hasText: 'exit 0' }).getByTestId('recording-play').click();
  const screen = page.getByTestId('recording-player').locator('.xterm-rows');
  await expect(screen).toContainText('e2e-42-ok', { timeout: 10_000 });

  // Playback fits the window and leaves the shell page's layout as it was.
  const dialog = page.getByTestId('recording-dialog');
  const box = await dialog.boundingBox();
  const viewport = page.viewportSize();
  expect(box && viewport && box.x >= 0 && box.y >= 0 && box.x + box.width <= viewport.width && box.y + box.height <= viewport.height).toBe(true);
  expect(await live.boundingBox()).toEqual(before);
  expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);

  // Pause, seek, speed, and a visible length.
  await expect(page.getByTestId('recording-duration')).toHaveText(/^\d+:\d\d$/);
  await expect(page.getByTestId('recording-toggle')).toHaveText('Play', { timeout: 20_000 });
  const duration = Number(await page.getByTestId('recording-seek').getAttribute('max'));
  expect(duration).toBeGreaterThan(0);
  await page.getByTestId('recording-seek').fill('0');
  await expect(screen).not.toContainText('e2e-42-ok');
  await expect(page.getByTestId('recording-time')).toHaveText('0:00');
  await page.getByTestId('recording-speed').selectOption('8');
  await page.getByTestId('recording-toggle').click();
  await expect(page.getByTestId('recording-toggle')).toHaveText('Pause');
  await expect(screen).toContainText('e2e-42-ok', { timeout: 10_000 });
  await page.getByTestId('recording-seek').fill(String(duration));
  await expect(page.getByTestId('recording-toggle')).toHaveText('Play');
  for (const theme of ['light', 'dark'] as const) {
    await page.evaluate((t) => document.documentElement.setAttribute('data-theme', t), theme);
    const path = testInfo.outputPath(`recording-${theme}.png`);
    await page.screenshot({ path });
    await testInfo.attach(`recording-${theme}`, { path, contentType: 'image/png' });
  }
  await page.getByTestId('recording-close').click();
  await expect(dialog).toHaveCount(0);
});

test('run a job from the console: confirm how many devices it touches, then watch it complete', async ({ page }) => {
  await signIn(page);
  await page.getByTestId('nav-jobs').click();
  await page.getByTestId('job-command').fill('uname -s; echo job-done');
  await page.getByTestId('job-query').fill(hostname());
  await page.getByTestId('job-review').click();
  await expect(page.getByTestId('job-confirm-count')).toContainText('1 device');
  await page.getByTestId('job-start').click();
  const row = page.getByTestId('job-row').first();
  await expect(row).toHaveAttribute('data-state', 'completed', { timeout: 20_000 });
  await expect(row.getByTestId('job-progress')).toHaveAttribute('data-done', '1');
  await expect(page.getByTestId('job-run')).toHaveAttribute('data-state', 'succeeded');
  await expect(page.getByTestId('job-run-output')).toContainText('job-done');
});

test('run a one-off command on a device from its page and see its output and exit code', async ({ page }) => {
  await signIn(page);
  const row = page.getByTestId('device-row').filter({ has: page.getByTestId('device-name').getByText(hostname()) });
  await row.getByTestId('device-terminal').click();
  await page.getByTestId('command-panel').locator('summary').click();
  await page.getByTestId('command-input').fill('echo cmd-$((2+3)); echo oops >&2; exit 4');
  await page.getByTestId('command-run').click();
  await expect(page.getByTestId('command-result')).toHaveAttribute('data-state', 'failed', { timeout: 10_000 });
  await expect(page.getByTestId('command-result')).toContainText('exit 4');
  await expect(page.getByTestId('command-stdout')).toHaveText('cmd-5\n');
  await expect(page.getByTestId('command-stderr')).toHaveText('oops\n');
});
