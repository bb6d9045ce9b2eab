import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { logIn, startStack, type Stack } from './stack.js';

let stack: Stack;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  stack = await startStack();
});

test.afterAll(async () => {
  await stack?.stop();
});

test('change a value in the console and see the device report it applied', async ({ page }) => {
  await logIn(page, stack.url);
  await expect(page.getByTestId('device-row').filter({ hasText: hostname() }).getByTestId('device-status')).toHaveText('online', { timeout: 30_000 });
  const deviceId = await page.getByTestId('device-row').filter({ hasText: hostname() }).getAttribute('data-device-id');

  await page.getByTestId('nav-config').click();
  await expect(page.getByTestId('config-view')).toBeVisible();
  await expect(page.getByTestId('config-editor-layer')).toHaveText('fleet');
  const row = page.locator(`[data-testid="config-status-row"][data-device-id="${deviceId}"]`);
  // On connect the device got its (empty) effective config.
  await expect(row.getByTestId('config-state')).toHaveText('applied', { timeout: 15_000 });

  const editor = page.getByTestId('config-editor');
  const check = page.getByTestId('config-validation');
  // Not JSON: refused at once, Save disabled.
  await editor.fill('{ "app": ');
  await expect(check).toHaveAttribute('data-state', 'invalid');
  await expect(page.getByTestId('config-save')).toBeDisabled();
  // JSON that breaks the agent namespace's schema: refused by the backend's check, with its code.
  await editor.fill('{ "agent": { "samplingIntervalMs": 1 } }');
  await expect(check).toHaveAttribute('data-code', 'CONFIG_SCHEMA_VIOLATION');
  await expect(check).toContainText('/agent/samplingIntervalMs');
  await expect(page.getByTestId('config-save')).toBeDisabled();

  await editor.fill('{ "app": { "greeting": "hello from the console" } }');
  await expect(check).toHaveAttribute('data-state', 'ok');
  await page.getByTestId('config-message').fill('say hello');
  await page.getByTestId('config-save').click();

  const revision = page.getByTestId('config-revision').first();
  await expect(revision).toContainText('say hello');
  const version = await revision.getAttribute('data-version');
  await expect(row.getByTestId('config-desired')).toHaveText(`v${version}`);
  await expect(row.getByTestId('config-reported')).toHaveText(`v${version} applied`, { timeout: 15_000 });
  await expect(row.getByTestId('config-state')).toHaveText('applied');
  await expect(row).toHaveAttribute('data-drift', 'false');

  // The device really has it, written into its state dir.
  const onDevice = JSON.parse(readFileSync(join(stack.home, 'agent', 'config', 'config.json'), 'utf8')) as unknown;
  expect(onDevice).toEqual({ version: Number(version), config: { app: { greeting: 'hello from the console' } } });

  // Where each value came from, and the diff of the change.
  await row.getByTestId('config-show-effective').click();
  const source = page.locator('[data-testid="config-effective-row"][data-path="/app/greeting"]');
  await expect(source.getByTestId('config-effective-source')).toHaveText('fleet');
  await revision.getByTestId('config-revision-diff').click();
  await expect(page.getByTestId('config-diff-entry')).toContainText('/values/app added');
});
