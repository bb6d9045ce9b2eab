import { hostname } from 'node:os';
import { expect, test } from './console-test.js';
import { ADMIN_PASSWORD, api } from '../harness.js';
import { logIn, startStack, type Stack } from './stack.js';

let stack: Stack;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  stack = await startStack();
});

test.afterAll(async () => {
  await stack?.stop();
});

test('a wrong password is refused with its message and code', async ({ page }) => {
  await logIn(page, stack.url, 'not the password');
  await expect(page.getByTestId('login-error')).toHaveAttribute('data-code', 'LOGIN_FAILED');
  await expect(page.getByTestId('fleet-table')).toHaveCount(0);
});

test('a reload resumes the session from the cookie with one /auth/me and shows the fleet, with no CSP violation', async ({ page }) => {
  // The strict CSP refuses eval; zod's probe for it ran at load and was reported until boot.ts set zod jitless first.
  await page.addInitScript(() => {
    const seen: string[] = [];
    Object.assign(window, { cspViolations: seen });
    document.addEventListener('securitypolicyviolation', (event) => seen.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`));
  });
  await logIn(page, stack.url);
  await expect(page.getByTestId('device-row')).toHaveCount(1, { timeout: 30_000 });
  const asked: string[] = [];
  page.on('request', (request) => {
    const { pathname } = new URL(request.url());
    if (pathname.startsWith('/api/v1/auth/')) asked.push(pathname);
  });
  await page.reload();
  await expect(page.getByTestId('device-row')).toHaveCount(1);
  await expect(page.getByTestId('console-connection')).toHaveAttribute('data-status', 'live');
  // In a browser the page's entry asks before the console has loaded, and the console takes that answer (boot.ts).
  expect(asked).toEqual(['/api/v1/auth/me']);
  expect(await page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations)).toEqual([]);
});

test('the console\'s scripts and styles arrive Brotli-compressed', async ({ page }) => {
  const encodings = new Map<string, string | undefined>();
  page.on('response', (response) => {
    const { pathname } = new URL(response.url());
    if (/^\/assets\/.+\.(js|css)$/.test(pathname)) encodings.set(pathname, response.headers()['content-encoding']);
  });
  await logIn(page, stack.url);
  await expect(page.getByTestId('device-row')).toHaveCount(1, { timeout: 30_000 });
  // The first screen's chunk and stylesheet among them: 420 KB of script travels as ~110 KB.
  expect([...encodings.keys()].filter((path) => path.startsWith('/assets/console-')).length).toBe(2);
  for (const [path, encoding] of encodings) expect(encoding, path).toBe('br');
});

test('log in and see this machine come online, then go offline live when revoked', async ({ page }) => {
  await logIn(page, stack.url);

  await expect(page.getByTestId('fleet-table')).toBeVisible();
  await expect(page.getByTestId('console-connection')).toHaveAttribute('data-status', 'live');
  const row = page.getByTestId('device-row').filter({ has: page.getByTestId('device-name').getByText(hostname(), { exact: true }) });
  await expect(row).toHaveCount(1);
  await expect(row.getByTestId('device-status')).toHaveText('online', { timeout: 30_000 });
  await expect(row.getByTestId('device-last-seen')).not.toHaveText('never');
  // The exact time is a tooltip, made on the first hover (device-row.tsx).
  await expect(row.getByTestId('device-last-seen')).not.toHaveAttribute('title');
  await row.getByTestId('device-last-seen').hover();
  await expect(row.getByTestId('device-last-seen')).toHaveAttribute('title', /\d/);
  await expect(page.getByTestId('fleet-count')).toHaveText('1');

  // A change made elsewhere (here through the API) reaches the open console without a reload.
  const deviceId = await row.getAttribute('data-device-id');
  const login = await api(stack, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: ADMIN_PASSWORD } });
  const token = (login.body as { token: string }).token;
  expect((await api(stack, 'POST', `/api/v1/devices/${deviceId}/revoke`, { token })).status).toBe(200);
  await expect(row.getByTestId('device-status')).toHaveText('offline', { timeout: 5_000 });
  await expect(row.getByTestId('device-enrolment')).toHaveText(/revoked/);

  await page.getByTestId('logout').click();
  await expect(page.getByTestId('login-username')).toBeVisible();
});
