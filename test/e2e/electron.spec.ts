import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { _electron as electron, expect, test } from '@playwright/test';
import { bundleElectronMain, electronBinary } from '../../build/electron/bundle-main.js';
import { caPin as pinOf } from '../../channel/pin.js';
import { startStack, type Stack } from './stack.js';

// The desktop shell's own promises, through its real window: the bundle from app://, the typed
// bridge and nothing else in the page, the backend reached only through the pinned CA.
const binary = electronBinary();
if ('reason' in binary) console.log(`[electron e2e] skipped: ${binary.reason}`);
test.skip('reason' in binary, 'reason' in binary ? binary.reason : '');

let stack: Stack;
let userData: string;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  stack = await startStack();
});

test.beforeEach(() => {
  userData = mkdtempSync(join(tmpdir(), 'tether-desktop-'));
});

test.afterEach(() => rmSync(userData, { recursive: true, force: true }));

test.afterAll(async () => {
  await stack?.stop();
});

async function launch(pin: string) {
  if ('reason' in binary) throw new Error(binary.reason);
  return electron.launch({
    executablePath: binary.path,
    args: [await bundleElectronMain(), `--console-url=${stack.url}`, `--ca-pin=${pin}`, '--no-sandbox'],
    env: { ...process.env, TETHER_DESKTOP_USER_DATA: userData },
  });
}

test('the console loads from app:// in a sandboxed window with only the typed bridge', async () => {
  const app = await launch(pinOf(stack.caCertPem));
  const window = await app.firstWindow();
  await expect(window.getByTestId('login-username')).toBeVisible();
  expect(window.url()).toMatch(/^app:\/\/tether\//);
  // No Node and no Electron in the page: nodeIntegration is off and the context is isolated.
  expect(await window.evaluate(() => typeof (globalThis as { require?: unknown }).require)).toBe('undefined');
  expect(await window.evaluate(() => typeof (globalThis as { process?: unknown }).process)).toBe('undefined');
  expect(await window.evaluate(() => Object.keys((globalThis as { tetherDesktop?: object }).tetherDesktop ?? {}).sort())).toEqual(['backend', 'notifications', 'profiles', 'session', 'terminal']);
  // A navigation away from the bundle is refused.
  await window.evaluate(() => {
    (globalThis as unknown as { location: { href: string } }).location.href = 'https://example.com/';
  });
  await window.waitForTimeout(500);
  expect(window.url()).toMatch(/^app:\/\/tether/);
  await app.close();
});

test('a backend whose CA does not match the pin is refused', async () => {
  const app = await launch(`sha256:${'0'.repeat(64)}`);
  const window = await app.firstWindow();
  await window.getByTestId('login-username').fill('admin');
  await window.getByTestId('login-password').fill('whatever');
  await window.getByTestId('login-submit').click();
  await expect(window.getByTestId('login-error')).toHaveAttribute('data-code', 'BACKEND_UNREACHABLE');
  await app.close();
});
