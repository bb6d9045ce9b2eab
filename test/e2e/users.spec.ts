import { readFileSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { Secret, TOTP } from 'otpauth';
import { ADMIN_PASSWORD } from '../harness.js';
import { logIn, startStack, type Stack } from './stack.js';

let stack: Stack;
const OPERATOR = { username: 'olga', password: 'olga-password-1' };

test.describe.configure({ mode: 'serial' });
test.use({ permissions: ['clipboard-read', 'clipboard-write'] });

test.beforeAll(async () => {
  test.setTimeout(120_000);
  stack = await startStack();
});

test.afterAll(async () => {
  await stack?.stop();
});

async function logInAs(page: Page, username: string, password: string): Promise<void> {
  await page.goto(stack.url);
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
}

async function logOut(page: Page): Promise<void> {
  await page.getByTestId('logout').click();
  await expect(page.getByTestId('login-username')).toBeVisible();
}

test('an admin adds an operator, who signs in and sees no admin views', async ({ page }) => {
  await logIn(page, stack.url);
  await page.getByTestId('nav-users').click();
  await expect(page.getByTestId('users-view')).toBeVisible();
  await page.getByTestId('user-new-name').fill(OPERATOR.username);
  await page.getByTestId('user-new-password').fill(OPERATOR.password);
  await page.getByTestId('user-new-role').selectOption('operator');
  await page.getByTestId('user-add').click();
  const row = page.locator(`[data-testid="user-row"][data-username="${OPERATOR.username}"]`);
  await expect(row.getByTestId('user-role')).toHaveValue('operator');
  // The last admin cannot be demoted; the refusal shows its code.
  await page.locator('[data-testid="user-row"][data-username="admin"]').getByTestId('user-role').selectOption('viewer');
  await expect(page.getByTestId('users-error')).toHaveAttribute('data-code', 'LAST_ADMIN');
  await logOut(page);

  await logInAs(page, OPERATOR.username, OPERATOR.password);
  await expect(page.getByTestId('current-user-role')).toHaveText('operator');
  await expect(page.getByTestId('nav-account')).toBeVisible();
  for (const admin of ['nav-users', 'nav-tokens', 'nav-audit']) await expect(page.getByTestId(admin)).toHaveCount(0);
  await page.goto(`${stack.url}/#/users`);
  await expect(page.getByTestId('access-forbidden')).toBeVisible();
  await expect(page.getByTestId('users-view')).toHaveCount(0);
});

test('a registration token shows its one-line install command once, with a copy button', async ({ page }) => {
  await logIn(page, stack.url);
  await page.getByTestId('nav-tokens').click();
  await page.getByTestId('token-uses').fill('3');
  await page.getByTestId('token-tags').fill('site=berlin');
  await page.getByTestId('token-create').click();
  const command = page.getByTestId('token-install-command');
  await expect(command).toContainText('install.sh');
  await expect(command).toContainText('--token ');
  await expect(command).toContainText('--ca-pin sha256:');
  await page.getByTestId('token-copy').click();
  await expect(page.getByTestId('token-copy')).toHaveText('Copied');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(await command.textContent());
  const row = page.getByTestId('token-row').filter({ hasText: 'site=berlin' });
  await expect(row.getByTestId('token-state')).toHaveText('active');
  await row.getByTestId('token-revoke').click();
  await expect(row.getByTestId('token-state')).toHaveText('revoked');
});

test('the operator turns on TOTP, then signing in asks for a code and accepts one', async ({ page }) => {
  test.setTimeout(120_000);
  await logInAs(page, OPERATOR.username, OPERATOR.password);
  await page.getByTestId('nav-account').click();
  await expect(page.getByTestId('account-totp-state')).toHaveAttribute('data-enabled', 'false');
  await page.getByTestId('totp-start').click();
  const secret = (await page.getByTestId('totp-secret').textContent()) ?? '';
  await expect(page.getByTestId('totp-url')).toContainText('otpauth://totp/');
  const totp = new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 });
  await page.getByTestId('totp-code').fill(totp.generate());
  const enabledStep = Math.floor(Date.now() / 30_000);
  await page.getByTestId('totp-enable').click();
  await expect(page.getByTestId('recovery-code')).toHaveCount(10);
  await expect(page.getByTestId('account-totp-state')).toHaveAttribute('data-enabled', 'true');
  await logOut(page);

  await logInAs(page, OPERATOR.username, OPERATOR.password);
  await expect(page.getByTestId('login-error')).toHaveAttribute('data-code', 'TOTP_REQUIRED');
  // The enabling code's time step is spent (no replay): wait for the next one.
  await expect.poll(() => Math.floor(Date.now() / 30_000), { timeout: 35_000 }).toBeGreaterThan(enabledStep);
  await page.getByTestId('login-totp').fill(totp.generate());
  await page.getByTestId('login-submit').click();
  await expect(page.getByTestId('current-user')).toHaveText(OPERATOR.username);
});

test('the audit view lists these actions, filters them and exports JSON lines', async ({ page }) => {
  await logIn(page, stack.url, ADMIN_PASSWORD);
  await page.getByTestId('nav-audit').click();
  const actions = page.getByTestId('audit-action');
  for (const action of ['user.create', 'token.create', 'token.revoke', 'auth.totp.enable']) await expect(actions.filter({ hasText: new RegExp(`^${action.replace('.', '\\.')}$`) }).first()).toBeVisible();

  await page.getByTestId('audit-filter-action').fill('token.*');
  await page.getByTestId('audit-search').click();
  await expect(page.getByTestId('audit-row').first()).toBeVisible();
  await expect(page.locator('[data-testid="audit-row"]:not([data-action^="token."])')).toHaveCount(0);

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('audit-export').click()]);
  const lines = readFileSync(await download.path(), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { action: string; actor: string });
  expect(lines.length).toBeGreaterThanOrEqual(2);
  expect(lines.every((e) => e.action.startsWith('token.'))).toBe(true);
  expect(lines.map((e) => e.action)).toEqual(expect.arrayContaining(['token.create', 'token.revoke']));
});
