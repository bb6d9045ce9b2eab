import { expect, test, type Page } from '@playwright/test';
import { createDeviceKeyAndCsr } from '../../agent/enrol/csr.js';
import { ADMIN_PASSWORD, api } from '../harness.js';
import { logIn, startStack, type Stack } from './stack.js';

let stack: Stack;

/** Enrols devices through the register API alone (no agent runs): rows to search, tag and select. */
async function enrol(names: string[]): Promise<void> {
  const login = await api(stack, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: ADMIN_PASSWORD } });
  const token = (login.body as { token: string }).token;
  const created = await api(stack, 'POST', '/api/v1/tokens', { token, body: { uses: names.length } });
  const { csrPem } = await createDeviceKeyAndCsr();
  for (const name of names) {
    const res = await api(stack, 'POST', '/api/v1/agent/register', { body: { token: (created.body as { token: string }).token, csr: csrPem, name } });
    expect(res.status).toBe(200);
  }
}

const rowOf = (page: Page, name: string) => page.getByTestId('device-row').filter({ has: page.getByTestId('device-name').getByText(name, { exact: true }) });

test.beforeAll(async () => {
  test.setTimeout(120_000);
  stack = await startStack();
  await enrol(['ux-alpha', 'ux-beta', 'ux-gamma']);
});

test.afterAll(async () => {
  await stack?.stop();
});

test('search, tag in the details, bulk-tag a selection, and drive it from the keyboard', async ({ page }) => {
  await logIn(page, stack.url);
  await expect(rowOf(page, 'ux-gamma')).toHaveCount(1);
  const total = Number(await page.getByTestId('fleet-count').textContent());
  expect(total).toBeGreaterThanOrEqual(4);

  // `/` focuses the search (not while typing elsewhere); the table and the count follow the query.
  await page.locator('body').press('/');
  await expect(page.getByTestId('fleet-search')).toBeFocused();
  await page.keyboard.type('ux-al');
  await expect(page.getByTestId('device-row')).toHaveCount(1);
  await expect(page.getByTestId('fleet-shown-count')).toHaveText('1');
  await expect(rowOf(page, 'ux-alpha')).toHaveCount(1);

  // Details: add a tag; it comes back through the live fleet event into the table.
  await rowOf(page, 'ux-alpha').getByTestId('device-name').click();
  const details = page.getByTestId('device-details');
  await expect(details.getByTestId('details-name')).toHaveText('ux-alpha');
  await details.getByTestId('details-tags-input').fill('role=camera');
  await details.getByTestId('details-tags-add').click();
  await expect(rowOf(page, 'ux-alpha').getByTestId('device-tags')).toContainText('role=camera');
  await expect(details.getByTestId('tag-chip')).toContainText(['role=camera']);
  await details.getByTestId('details-close').click();
  await expect(details).toHaveCount(0);

  // The tag filter finds it; then select all matching `ux-` and tag them in bulk.
  await page.getByTestId('fleet-search').fill('');
  await page.getByTestId('fleet-tag-filter').fill('role=camera');
  await expect(page.getByTestId('device-row')).toHaveCount(1);
  await page.getByTestId('fleet-tag-filter').fill('');
  await page.getByTestId('fleet-search').fill('ux-');
  await expect(page.getByTestId('device-row')).toHaveCount(3);
  await page.getByTestId('fleet-select-all').check();
  await expect(page.getByTestId('bulk-count')).toHaveText('3 devices selected');
  await page.getByTestId('bulk-tags-input').fill('batch=7');
  await page.getByTestId('bulk-tags-add').click();
  for (const name of ['ux-alpha', 'ux-beta', 'ux-gamma']) await expect(rowOf(page, name).getByTestId('device-tags')).toContainText('batch=7');

  // Shift-click selects a range; revoke asks first, naming the count, and Cancel changes nothing.
  await page.getByTestId('bulk-clear').click();
  await rowOf(page, 'ux-alpha').getByTestId('device-select').click();
  await rowOf(page, 'ux-gamma').getByTestId('device-select').click({ modifiers: ['Shift'] });
  await expect(page.getByTestId('bulk-count')).toHaveText('3 devices selected');
  await page.getByTestId('bulk-revoke').click();
  await expect(page.getByTestId('revoke-count')).toHaveText('3 devices');
  await page.getByTestId('revoke-cancel').click();
  await expect(rowOf(page, 'ux-beta')).toHaveAttribute('data-status', 'active');

  // Keyboard: Escape clears the selection, j/k move, x toggles, Enter opens, ? shows help.
  await page.locator('body').click({ position: { x: 5, y: 5 } });
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('bulk-actions')).toHaveCount(0);
  // The cursor is on ux-gamma, the last row shift-clicked.
  await page.keyboard.press('k');
  await expect(rowOf(page, 'ux-beta')).toHaveAttribute('data-cursor', 'true');
  await page.keyboard.press('j');
  await expect(rowOf(page, 'ux-gamma')).toHaveAttribute('data-cursor', 'true');
  await page.keyboard.press('ArrowUp');
  await expect(rowOf(page, 'ux-beta')).toHaveAttribute('data-cursor', 'true');
  await page.keyboard.press('x');
  await expect(page.getByTestId('bulk-count')).toHaveText('1 device selected');
  await page.keyboard.press('Enter');
  await expect(details.getByTestId('details-name')).toHaveText('ux-beta');
  await page.keyboard.press('?');
  await expect(page.getByTestId('shortcut-help')).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('shortcut-help')).toHaveCount(0);

  // A command over the selection becomes a job, and the console goes to it.
  await page.getByTestId('bulk-command-input').fill('true');
  await page.getByTestId('bulk-command-run').click();
  await expect(page).toHaveURL(/#\/jobs\/[0-9a-f-]{36}$/);
  await expect(page.getByTestId('jobs-view')).toBeVisible();
});

test('the theme toggle switches data-theme and the choice survives a reload', async ({ page }) => {
  await page.emulateMedia({ colorScheme: 'light' });
  await logIn(page, stack.url);
  const html = page.locator('html');
  await expect(html).toHaveAttribute('data-theme', 'light');
  await page.getByTestId('theme-toggle').selectOption('dark');
  await expect(html).toHaveAttribute('data-theme', 'dark');
  const background = await page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue('--bg').trim());
  expect(background).toBe('#0d1117');
  await page.reload();
  await expect(html).toHaveAttribute('data-theme', 'dark');
  await page.getByTestId('theme-toggle').selectOption('system');
  await expect(html).toHaveAttribute('data-theme', 'light');
  await page.emulateMedia({ colorScheme: 'dark' });
  await expect(html).toHaveAttribute('data-theme', 'dark');
});
