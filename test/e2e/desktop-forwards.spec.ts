/**
 * The desktop app's port forwards, driven from the device page. Electron cannot run on this
 * machine, so the one part that is replaced is Electron's IPC: the page gets the bridge the
 * preload would give it (one function per DESKTOP_API operation, each invoking its channel), and
 * each channel is the main process's real checked handler (electron/desktop-ipc.ts) over the
 * real ForwardManager and forward dial (electron/forwards/), running in this test process where
 * the main process would. The forward's bytes are real: a TCP connection to the listener it opens
 * goes through the backend and the stack's agent to an HTTP server on the device's loopback.
 */
import { X509Certificate } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, test } from '@playwright/test';
import { desktopOperations, type BackendProfile, type DesktopHandlers } from '../../protocol/index.js';
import { APP_ORIGIN } from '../../electron/app-protocol.js';
import { createDesktopChannels } from '../../electron/desktop-ipc.js';
import { createForwardDial } from '../../electron/forwards/forward-dial.js';
import { ForwardManager } from '../../electron/forwards/forward-manager.js';
import { spkiPin } from '../../electron/pinned-certificate.js';
import { logIn, onlineStackDevice, startStack, type Stack } from './stack.js';

let stack: Stack;
let web: Server;
let webPort: number;
let deviceId: string;
let forwards: ForwardManager;
const BODY = 'robot dashboard through a desktop forward';

/** GET / on a local port: status and body. */
function fetchLocal(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test.beforeAll(async () => {
  test.setTimeout(120_000);
  web = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(BODY));
  await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
  webPort = (web.address() as AddressInfo).port;
  stack = await startStack();
  const online = await onlineStackDevice(stack);
  deviceId = online.deviceId;
  const { token } = online;
  // What the main process holds for the active backend: its profile, the session token and the pinned CA.
  const profile: BackendProfile = { id: 'prof_e2etest1', name: 'e2e', url: stack.url, caPin: spkiPin(new X509Certificate(stack.caCertPem)) };
  forwards = new ForwardManager(createForwardDial({ activeProfile: () => profile, token: () => token, caPem: () => stack.caCertPem }));
});

test.afterAll(async () => {
  await forwards?.stopAll();
  await stack?.stop();
  web?.close();
});

test('starts a forward from the device page, lists its connections and bytes, and stops it', async ({ page }) => {
  const origin = new URL(stack.url);
  const handlers: DesktopHandlers = {
    profiles: { list: () => ({ activeId: 'prof_e2etest1', profiles: [] }), add: () => Promise.reject(new Error('not in this test')), remove: () => null, select: () => null },
    session: { status: () => ({ signedIn: true, storage: 'memory' }), clear: () => null },
    backend: { endpoint: () => ({ profileId: 'prof_e2etest1', name: 'e2e', httpOrigin: origin.origin, wsOrigin: `wss://${origin.host}` }) },
    notifications: { show: () => null },
    terminal: { popOut: () => null },
    forwards: { list: (id) => forwards.list(id), start: (request) => forwards.start(request), stop: (id) => forwards.stop(id).then(() => null) },
  };
  const channels = createDesktopChannels(handlers, () => new Set([1]), (message, error) => console.error(message, error));
  // The sender Electron would report for the console's own window.
  const sender = { sender: { id: 1 }, senderFrame: { url: `${APP_ORIGIN}/index.html`, parent: null } };
  await page.exposeFunction('__tetherInvoke', async (channel: string, args: unknown[]) => {
    const handle = channels.get(channel);
    if (!handle) throw new Error(`no channel ${channel}`);
    return handle(sender, ...args);
  });
  const operations = desktopOperations().map(({ group, operation, channel }) => ({ group, operation, channel }));
  await page.addInitScript((ops) => {
    const invoke = (window as unknown as { __tetherInvoke: (channel: string, args: unknown[]) => Promise<unknown> }).__tetherInvoke;
    const bridge: Record<string, Record<string, (...args: unknown[]) => Promise<unknown>>> = {};
    for (const { group, operation, channel } of ops) (bridge[group] ??= {})[operation] = (...args: unknown[]) => invoke(channel, args);
    Object.defineProperty(window, 'tetherDesktop', { value: Object.freeze(bridge) });
  }, operations);

  await logIn(page, stack.url);
  await expect(page.getByTestId('fleet-table')).toBeVisible();
  await page.locator(`[data-testid="device-row"][data-device-id="${deviceId}"]`).getByTestId('device-name').click();
  const section = page.getByTestId('details-forwards');
  await expect(section).toBeVisible();
  await section.getByLabel('Port', { exact: true }).fill(String(webPort));
  await section.getByRole('button', { name: 'Forward' }).click();

  const item = section.getByTestId('forward-item');
  await expect(item).toHaveCount(1);
  await expect(item).toContainText(`→ 127.0.0.1:${webPort}`);
  const [active] = forwards.list(deviceId);
  expect(active?.bind).toBe('127.0.0.1');
  const localPort = active?.localPort ?? 0;
  expect(localPort).toBeGreaterThan(0);
  await expect(item).toContainText(`127.0.0.1:${localPort}`);

  // Real bytes through the listener the page asked for; the list shows the connection and its bytes.
  expect(await fetchLocal(localPort)).toEqual({ status: 200, body: BODY });
  await expect(item).toContainText('1 total', { timeout: 10_000 });
  await expect(item).not.toContainText('↓0 B');

  // Stopping it from the page closes the listener.
  await item.getByRole('button', { name: 'Stop' }).click();
  await expect(item).toHaveCount(0);
  expect(forwards.list(deviceId)).toEqual([]);
  await expect(fetchLocal(localPort)).rejects.toThrow(/ECONNREFUSED/);
});
