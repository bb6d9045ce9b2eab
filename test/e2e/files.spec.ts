/**
 * The device page's Files tab against `npm start` (backend and agent): browse into an allowed
 * directory, upload by the picker, see the file listed, download it and compare the bytes; a
 * viewer is told why there is nothing to see.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import { ADMIN_PASSWORD, api, cleanup, tempDir } from '../harness.js';
import { expect, test } from './console-test.js';
import { logIn, startStack, type Stack } from './stack.js';

let stack: Stack;
let root: string;
let token: string;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  // The agent may use only this directory (not /tmp, where the view starts).
  root = tempDir('files-e2e');
  mkdirSync(join(root, 'inbox'));
  writeFileSync(join(root, 'hello.txt'), 'hello from the device\n');
  stack = await startStack({ env: { TETHER_FILE_ROOTS: root } });
  const login = await api(stack, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: ADMIN_PASSWORD } });
  token = (login.body as { token: string }).token;
});

test.afterAll(async () => {
  await stack?.stop();
  if (root) cleanup(root);
});

/** axe-core's WCAG 2 A/AA findings on the page in both themes (as accessibility.spec.ts checks every view), one line each. */
async function axeFindings(page: Page): Promise<string[]> {
  const found: string[] = [];
  for (const theme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: theme });
    await expect(page.locator('html')).toHaveAttribute('data-theme', theme);
    const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa']).analyze();
    found.push(...results.violations.flatMap((v) => v.nodes.map((n) => `[${theme}] ${v.id}: ${n.target.join(' ')} — ${(n.failureSummary ?? '').replace(/\s+/g, ' ').slice(0, 200)}`)));
  }
  return found;
}

async function openFiles(page: Page): Promise<string> {
  const row = page.getByTestId('device-row').filter({ has: page.getByTestId('device-name').getByText(hostname(), { exact: true }) });
  await expect(row.getByTestId('device-status')).toHaveText('online', { timeout: 30_000 });
  const deviceId = (await row.getAttribute('data-device-id')) ?? '';
  await page.goto(`${stack.url}#/devices/${deviceId}/shell`);
  await page.getByTestId('device-link-files').click();
  await expect(page).toHaveURL(new RegExp(`#/devices/${deviceId}/files$`));
  await expect(page.getByTestId('files-view')).toBeVisible();
  return deviceId;
}

test('browse to an allowed directory, upload a file by the picker, see it listed and download the same bytes', async ({ page }) => {
  test.setTimeout(90_000);
  await logIn(page, stack.url);
  await expect(page.getByTestId('fleet-table')).toBeVisible();
  await openFiles(page);

  // /tmp is outside this agent's roots: the view says so and what to do.
  await expect(page.getByTestId('files-list-error')).toHaveAttribute('data-code', 'PATH_NOT_ALLOWED', { timeout: 15_000 });
  await page.getByTestId('files-path').fill('tmp');
  await page.getByTestId('files-go').click();
  await expect(page.getByTestId('files-path')).toHaveAttribute('aria-invalid', 'true');
  await page.getByTestId('files-path').fill(root);
  await page.getByTestId('files-go').click();
  const entries = page.getByTestId('files-entry');
  await expect(entries).toHaveCount(2);
  await expect(page.locator('[data-testid="files-entry"][data-name="hello.txt"]').getByTestId('files-entry-size')).toHaveText('22 B');

  // Into the empty subdirectory by a click, back up by the breadcrumb.
  await page.locator('[data-testid="files-entry"][data-name="inbox"]').getByTestId('files-open-dir').click();
  await expect(page.getByTestId('files-empty')).toBeVisible();
  await expect(page.getByTestId('files-breadcrumb').locator('[aria-current="location"]')).toHaveText('inbox');

  // Upload by the picker: 300 kB of random bytes, listed with its size once the device committed.
  const content = randomBytes(300_000);
  await page.getByTestId('files-picker').setInputFiles({ name: 'payload.bin', mimeType: 'application/octet-stream', buffer: content });
  const upload = page.locator('[data-testid="files-transfer"][data-direction="upload"][data-name="payload.bin"]');
  await expect(upload).toHaveAttribute('data-state', 'done', { timeout: 30_000 });
  await expect(upload.getByTestId('files-transfer-figures')).toContainText('100 %');
  const listed = page.locator('[data-testid="files-entry"][data-name="payload.bin"]');
  await expect(listed.getByTestId('files-entry-size')).toHaveText('300 kB');
  expect(readFileSync(join(root, 'inbox', 'payload.bin')).equals(content)).toBe(true);

  // Download it back: the same bytes reach the browser's download.
  const [download] = await Promise.all([page.waitForEvent('download'), listed.getByTestId('files-download').click()]);
  expect(download.suggestedFilename()).toBe('payload.bin');
  const saved = await download.path();
  expect(readFileSync(saved).equals(content)).toBe(true);
  await expect(page.locator('[data-testid="files-transfer"][data-direction="download"]')).toHaveAttribute('data-state', 'done');

  // A file dropped on the listing is uploaded there too.
  const dropped = await page.evaluateHandle(() => {
    const data = new DataTransfer();
    data.items.add(new File(['dropped bytes'], 'dropped.txt'));
    return data;
  });
  await page.getByTestId('files-browser').dispatchEvent('dragover', { dataTransfer: dropped });
  await expect(page.getByTestId('files-browser')).toHaveClass(/is-dropping/);
  await page.getByTestId('files-browser').dispatchEvent('drop', { dataTransfer: dropped });
  await expect(page.locator('[data-testid="files-entry"][data-name="dropped.txt"]').getByTestId('files-entry-size')).toHaveText('13 B', { timeout: 30_000 });
  expect(readFileSync(join(root, 'inbox', 'dropped.txt'), 'utf8')).toBe('dropped bytes');

  await page.screenshot({ path: 'test-results/files-tab.png', fullPage: true });
  expect(await axeFindings(page)).toEqual([]);

  // The next visit starts in the directory last listed.
  await page.reload();
  await expect(page.getByTestId('files-breadcrumb').locator('[aria-current="location"]')).toHaveText('inbox', { timeout: 15_000 });
  await expect(page.locator('[data-testid="files-entry"][data-name="payload.bin"]')).toBeVisible();

  // Both transfers are audited under the admin.
  const audit = await api(stack, 'GET', '/api/v1/audit?limit=20', { token });
  const actions = (audit.body as { entries: Array<{ action: string }> }).entries.map((e) => e.action);
  expect(actions).toEqual(expect.arrayContaining(['file.upload', 'file.download']));
});

test('an upload cancelled halfway is resumed from what the device holds, and the file arrives whole', async ({ page }) => {
  test.setTimeout(90_000);
  await logIn(page, stack.url);
  await expect(page.getByTestId('fleet-table')).toBeVisible();
  await openFiles(page);
  await page.getByTestId('files-path').fill(join(root, 'inbox'));
  await page.getByTestId('files-go').click();
  await expect(page.getByTestId('files-breadcrumb').locator('[aria-current="location"]')).toHaveText('inbox');

  // A slow link, so there is time to cancel in the middle.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 1_000_000 });
  const offsets: number[] = [];
  page.on('request', (request) => {
    if (request.method() === 'PUT') offsets.push(Number(new URL(request.url()).searchParams.get('offset')));
  });
  const content = randomBytes(6_000_000);
  await page.getByTestId('files-picker').setInputFiles({ name: 'big.bin', mimeType: 'application/octet-stream', buffer: content });
  const upload = page.locator('[data-testid="files-transfer"][data-name="big.bin"]');
  await expect(upload.getByTestId('files-transfer-figures')).toContainText(/(\d{2}) %.*\/s/, { timeout: 30_000 });
  await expect.poll(async () => Number(/(\d+) %/.exec((await upload.getByTestId('files-transfer-figures').textContent()) ?? '')?.[1] ?? 0), { timeout: 30_000 }).toBeGreaterThanOrEqual(40);
  await upload.getByTestId('files-cancel').click();
  await expect(upload).toHaveAttribute('data-state', 'cancelled');

  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await upload.getByTestId('files-resume').click();
  await expect(upload).toHaveAttribute('data-state', 'done', { timeout: 30_000 });
  expect(offsets).toHaveLength(2);
  expect(offsets[0]).toBe(0);
  expect(offsets[1]).toBeGreaterThan(0);
  expect(readFileSync(join(root, 'inbox', 'big.bin')).equals(content)).toBe(true);
});

test('a download cancelled halfway is resumed with a range and saved whole once its SHA-256 matches', async ({ page }) => {
  test.setTimeout(90_000);
  const content = randomBytes(6_000_000);
  writeFileSync(join(root, 'fetch-me.bin'), content);
  await logIn(page, stack.url);
  await expect(page.getByTestId('fleet-table')).toBeVisible();
  await openFiles(page);
  await page.getByTestId('files-path').fill(root);
  await page.getByTestId('files-go').click();

  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: 1_000_000, uploadThroughput: -1 });
  const ranges: Array<string | null> = [];
  page.on('request', (request) => {
    if (request.url().includes('/files/content')) ranges.push(request.headers()['range'] ?? null);
  });
  await page.locator('[data-testid="files-entry"][data-name="fetch-me.bin"]').getByTestId('files-download').click();
  const transfer = page.locator('[data-testid="files-transfer"][data-name="fetch-me.bin"]');
  await expect.poll(async () => Number(/(\d+) %/.exec((await transfer.getByTestId('files-transfer-figures').textContent()) ?? '')?.[1] ?? 0), { timeout: 30_000 }).toBeGreaterThanOrEqual(30);
  await transfer.getByTestId('files-cancel').click();
  await expect(transfer).toHaveAttribute('data-state', 'cancelled');

  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  const [download] = await Promise.all([page.waitForEvent('download'), transfer.getByTestId('files-resume').click()]);
  expect(readFileSync(await download.path()).equals(content)).toBe(true);
  await expect(transfer).toHaveAttribute('data-state', 'done');
  expect(ranges).toHaveLength(2);
  expect(ranges[0]).toBeNull();
  expect(ranges[1]).toMatch(/^bytes=[1-9]\d*-$/);
});

test('a viewer is told that their role has no access to files, not shown an error', async ({ page }) => {
  const made = await api(stack, 'POST', '/api/v1/users', { token, body: { username: 'files-viewer', password: 'viewer-password-1', role: 'viewer' } });
  expect(made.status).toBe(200);
  await page.goto(stack.url);
  await page.getByTestId('login-username').fill('files-viewer');
  await page.getByTestId('login-password').fill('viewer-password-1');
  await page.getByTestId('login-submit').click();
  await expect(page.getByTestId('fleet-table')).toBeVisible();
  await openFiles(page);
  await expect(page.getByTestId('files-no-access')).toContainText('operator', { timeout: 15_000 });
  await expect(page.getByTestId('files-upload')).toBeDisabled();
  await expect(page.getByRole('alert')).toHaveCount(0);
  expect(await axeFindings(page)).toEqual([]);
});
