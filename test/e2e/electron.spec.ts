import { _electron as electron, expect, test } from '@playwright/test';
import { bundleElectronMain, electronBinary } from '../../build/electron/bundle-main.js';
import { caPin as pinOf } from '../../channel/pin.js';
import { startStack, type Stack } from './stack.js';

// The same login the web console test makes, through the desktop shell's window.
const binary = electronBinary();
if ('reason' in binary) console.log(`[electron e2e] skipped: ${binary.reason}`);
test.skip('reason' in binary, 'reason' in binary ? binary.reason : '');

let stack: Stack;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  stack = await startStack();
});

test.afterAll(async () => {
  await stack?.stop();
});

test('the desktop shell opens the console in a sandboxed window pinned to the backend CA', async () => {
  if ('reason' in binary) return;
  const main = await bundleElectronMain();
  const caPin = pinOf(stack.caCertPem);
  const app = await electron.launch({ executablePath: binary.path, args: [main, `--console-url=${stack.url}`, `--ca-pin=${caPin}`, '--no-sandbox'] });
  const window = await app.firstWindow();
  await expect(window.getByTestId('login-username')).toBeVisible();
  // No Node in the page: nodeIntegration is off and the context is isolated.
  expect(await window.evaluate(() => typeof (globalThis as { require?: unknown }).require)).toBe('undefined');
  expect(await window.evaluate(() => typeof (globalThis as { process?: unknown }).process)).toBe('undefined');
  await app.close();
});
