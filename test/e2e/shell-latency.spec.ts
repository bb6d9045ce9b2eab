/**
 * How long the first shell prompt takes after a click on a device's terminal link, split into
 * its steps (issue 18 point 11): timestamps taken in the page, from a click listener, a wrapped
 * WebSocket and a MutationObserver on the terminal's rows.
 */
import { hostname } from 'node:os';
import type { Page } from '@playwright/test';
import { expect, test } from './console-test.js';
import { logIn, startStack, type Stack } from './stack.js';

let stack: Stack;
const PROMPT = 'tether-prompt-ready$ ';

test.beforeAll(async () => {
  test.setTimeout(120_000);
  // dash reads PS1 from its environment, which the agent's PTY inherits: a prompt to look for.
  stack = await startStack({ env: { TETHER_SHELL: '/bin/sh', PS1: PROMPT } });
});

test.afterAll(async () => {
  await stack?.stop();
});

interface Marks {
  click?: number;
  tab?: number;
  pane?: number;
  wsCreated?: number;
  wsOpen?: number;
  opened?: number;
  firstOutput?: number;
  firstDrawn?: number;
  prompt?: number;
}

/** Installed before the console's scripts: every mark is `performance.now()` in the page. */
function instrument(prompt: string): void {
  const w = window as unknown as { __marks: Marks };
  w.__marks = {};
  const mark = (name: keyof Marks) => (w.__marks[name] ??= performance.now());
  document.addEventListener('click', () => mark('click'), { capture: true });
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      if (!String(url).includes('/api/v1/shell')) return;
      mark('wsCreated');
      this.addEventListener('open', () => mark('wsOpen'));
      this.addEventListener('message', (ev: MessageEvent) => {
        if (typeof ev.data === 'string' && ev.data.includes('"opened"')) mark('opened');
        else if (typeof ev.data !== 'string') mark('firstOutput');
      });
    }
  };
  new MutationObserver(() => {
    if (document.querySelector('[data-testid="terminal-tab"]')) mark('tab');
    if (document.querySelector('[data-testid="terminal-pane"]')) mark('pane');
    const rows = document.querySelector('[data-testid="terminal-pane"]:not([hidden]) .xterm-rows');
    const text = rows?.textContent ?? '';
    if (text.trim() !== '') mark('firstDrawn');
    if (text.includes(prompt.trim())) mark('prompt');
  }).observe(document, { subtree: true, childList: true, characterData: true });
}

async function openTerminal(page: Page): Promise<Required<Marks>> {
  await page.evaluate(() => ((window as unknown as { __marks: Marks }).__marks = {}));
  const row = page.getByTestId('device-row').filter({ has: page.getByTestId('device-name').getByText(hostname()) });
  await row.getByTestId('device-terminal').click();
  await expect(page.locator('[data-testid="terminal-pane"]:not([hidden]) .xterm-rows')).toContainText(PROMPT.trim(), { timeout: 30_000 });
  const marks = await page.evaluate(() => (window as unknown as { __marks: Marks }).__marks);
  const click = marks.click ?? 0;
  const rel = Object.fromEntries(Object.entries(marks).map(([k, v]) => [k, Math.round((v as number) - click)])) as Required<Marks>;
  return rel;
}

test('a terminal shows its first prompt soon after the click, on the first open after the agent started and on later ones', async ({ page }, testInfo) => {
  await page.addInitScript(instrument, PROMPT);
  await logIn(page, stack.url);
  const row = page.getByTestId('device-row').filter({ has: page.getByTestId('device-name').getByText(hostname()) });
  await expect(row.getByTestId('device-status')).toHaveText('online', { timeout: 30_000 });

  const first = await openTerminal(page);
  // The first session was opened at a guess from the viewport: its PTY has the fitted size, like a new tab's.
  const sizes: string[] = [];
  for (const open of [async () => undefined, () => page.getByTestId('terminal-new-tab').click()]) {
    await open();
    const pane = page.locator('[data-testid="terminal-pane"]:not([hidden])');
    await expect(pane.locator('.xterm-rows')).toContainText(PROMPT.trim());
    await pane.getByTestId('terminal').click();
    await page.keyboard.type('echo "size:$(stty size):"');
    await page.keyboard.press('Enter');
    const size = pane.locator('.xterm-rows > div').filter({ hasText: /^size:\d+ \d+:/ });
    await expect(size).toHaveCount(1);
    sizes.push(await size.innerText());
  }
  expect(sizes[0]).toBe(sizes[1]);
  await page.goto(`${stack.url}#/`);
  await expect(page.getByTestId('fleet-table')).toBeVisible();
  const second = await openTerminal(page);
  console.log(`[shell latency] ms after the click: first open ${JSON.stringify(first)}; second ${JSON.stringify(second)}`);
  await testInfo.attach('shell-latency.json', { body: JSON.stringify({ first, second }, null, 2), contentType: 'application/json' });
  // The session starts at the click, while the terminal view's chunk (xterm) loads, not after.
  expect(first.wsCreated).toBeLessThan(first.pane);
  // ~0.45 s on the first open and ~0.15 s after on an idle 2-core machine (5.5 s reported before):
  // bounds a loaded machine meets that still catch a multi-second regression.
  expect(first.prompt).toBeLessThan(2000);
  expect(second.prompt).toBeLessThan(1500);
});

test('pointing at or focusing a terminal link loads the terminal view before the click', async ({ page }) => {
  await logIn(page, stack.url);
  const link = page.getByTestId('device-row').filter({ has: page.getByTestId('device-name').getByText(hostname()) }).getByTestId('device-terminal');
  await expect(link).toBeVisible({ timeout: 30_000 });
  const chunk = page.waitForRequest(/\/shell-view-[^/]*\.js$/, { timeout: 10_000 });
  await link.hover();
  await chunk;
  expect(page.url()).not.toContain('/shell');
});
