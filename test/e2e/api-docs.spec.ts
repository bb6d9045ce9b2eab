import { expect, test } from '@playwright/test';
import { cleanup, login, startBackend, type Backend } from '../harness.js';

/** The rendered API reference (`/api/docs`) in a real browser, under the backend's own CSP. */
test.describe('API reference page', () => {
  let backend: Backend;
  test.beforeAll(async () => {
    backend = await startBackend();
  });
  test.afterAll(async () => {
    await backend.stop();
    cleanup(backend.home);
  });

  test('renders every tag of the document with nothing blocked by the CSP', async ({ page }) => {
    const violations: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') violations.push(message.text());
    });
    await page.setExtraHTTPHeaders({ authorization: `Bearer ${await login(backend)}` });
    await page.goto(`${backend.url}/api/docs`);
    await expect(page.locator('.info .title')).toContainText('Tether API');
    for (const tag of ['auth', 'devices', 'config', 'jobs']) await expect(page.locator(`#operations-tag-${tag}`)).toBeVisible();
    await expect(page.locator('.opblock-summary-description').first()).not.toBeEmpty();
    expect(violations).toEqual([]);
  });
});
