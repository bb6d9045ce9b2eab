/**
 * The web relay from Chromium: a logged-in admin gets a relay grant for a web UI on this
 * machine's loopback (the stack's own agent runs here) and opens `/relay/<device>/<port>/<grant>/`: the
 * page, a relative script, a cookie it sets, and a WebSocket echo all go through the device stream.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { expect, test } from '@playwright/test';
import { logIn, onlineStackDevice, startStack, type Stack } from './stack.js';

let stack: Stack;
let web: Server;
let webPort: number;
let deviceId: string;
const seenCookies: string[] = [];

const PAGE = `<!doctype html>
<html><head><title>Robot dashboard</title><script src="app.js"></script></head>
<body><h1 id="title">Robot dashboard</h1><p id="script">script not loaded</p><p id="ws">ws not connected</p></body></html>`;
const APP_JS = `
addEventListener('DOMContentLoaded', () => {
  document.getElementById('script').textContent = 'script loaded';
  const ws = new WebSocket(location.href.replace(/^http/, 'ws').replace(/[^/]*$/, '') + 'echo');
  ws.onopen = () => ws.send('ping-42');
  ws.onmessage = (e) => { document.getElementById('ws').textContent = 'echo: ' + e.data; };
  ws.onerror = () => { document.getElementById('ws').textContent = 'ws error'; };
});`;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  web = createServer((req, res) => {
    seenCookies.push(req.headers.cookie ?? '');
    if (req.url === '/app.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(APP_JS);
      return;
    }
    if (req.url === '/old') {
      res.writeHead(302, { location: '/' }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html', 'set-cookie': 'robot=1; Path=/' }).end(PAGE);
  });
  const wss = new WebSocketServer({ server: web, path: '/echo' });
  wss.on('connection', (ws) => ws.on('message', (data) => ws.send(String(data))));
  await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
  webPort = (web.address() as AddressInfo).port;
  stack = await startStack();
  ({ deviceId } = await onlineStackDevice(stack));
});

test.afterAll(async () => {
  await stack?.stop();
  web?.close();
});

test('opens a device web UI through the relay: page, script, redirect, cookie and a WebSocket echo', async ({ page }) => {
  await logIn(page, stack.url);
  await expect(page.getByTestId('fleet-table')).toBeVisible();

  // Without a grant (or with a made-up one) the relay says so with a stable code.
  for (const path of [`/relay/${deviceId}/${webPort}/`, `/relay/${deviceId}/${webPort}/${'x'.repeat(43)}/`]) {
    const refused = await page.request.get(`${stack.url}${path}`);
    expect(refused.status()).toBe(401);
    expect((await refused.json()) as unknown).toMatchObject({ code: 'UNAUTHORIZED' });
  }

  // One click from the device's details: a grant, and the device's web UI in a new tab.
  const row = page.locator(`[data-testid="device-row"][data-device-id="${deviceId}"]`);
  await row.getByTestId('device-name').click();
  const details = page.getByTestId('device-details');
  await details.getByTestId('details-relay-port').fill(String(webPort));
  const [tab] = await Promise.all([page.context().waitForEvent('page'), details.getByTestId('details-relay-open').click()]);
  await tab.waitForLoadState();
  const path = new URL(tab.url()).pathname;
  expect(path).toMatch(new RegExp(`^/relay/${deviceId}/${webPort}/[A-Za-z0-9_-]{43}/$`));

  // A redirect to an absolute path on the device stays under the relay.
  await tab.goto(`${stack.url}${path}old`);
  await expect(tab).toHaveURL(`${stack.url}${path}`);
  await expect(tab.locator('#title')).toHaveText('Robot dashboard');
  await expect(tab.locator('#script')).toHaveText('script loaded');
  await expect(tab.locator('#ws')).toHaveText('echo: ping-42', { timeout: 15_000 });

  // The device never saw Tether's session cookie; its own cookie came back, confined to the relay path.
  expect(seenCookies.some((c) => c.includes('tether_'))).toBe(false);
  const cookies = await tab.context().cookies(`${stack.url}${path}`);
  expect(cookies.find((c) => c.name === 'robot')?.path).toBe(path);

  // The relay's answers are sandboxed (opaque origin): the page cannot read the console's API.
  const apiRead = await tab.evaluate(async () => {
    try {
      const res = await fetch('/api/v1/devices', { credentials: 'include' });
      return `read ${res.status}`;
    } catch {
      return 'blocked';
    }
  });
  expect(apiRead).toBe('blocked');
});
