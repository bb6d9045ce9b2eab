/** `npm start` as a user runs it, in a temporary home, for the browser tests. */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { ADMIN_PASSWORD, Proc, ROOT, api, cleanup, tempDir, waitFor } from '../harness.js';

export interface Stack {
  url: string; home: string; caCertPem: string; proc: Proc; stop(): Promise<void>;
  /** A file the stack's agent forwards as a log source (TETHER_LOG_FILES). */
  logFile: string;
}

let started: Stack | null = null;

/** The stack this spec file started last, for fixtures that need its URL and CA (the desktop app's launch). */
export function currentStack(): Stack | null {
  return started;
}

export async function startStack(options: { env?: Record<string, string> } = {}): Promise<Stack> {
  const home = tempDir('stack');
  const logFile = join(home, 'device.log');
  writeFileSync(logFile, '');
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'tether-start.js')], {
    cwd: ROOT,
    env: { ...process.env, TETHER_HOME: home, TETHER_LISTEN: '127.0.0.1:0', TETHER_ADMIN_PASSWORD: ADMIN_PASSWORD, TETHER_NO_ELECTRON: '1', TETHER_LOG_FILES: logFile, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = new Proc(child, 'npm start');
  const deadline = Date.now() + 90_000;
  let url: string | undefined;
  while (!url) {
    url = proc.lines.map((l) => /\[start\] web console: (\S+)/.exec(l)?.[1]).find(Boolean);
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`npm start did not print the console URL:\n${proc.tail()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  started = {
    url, home, proc, logFile,
    caCertPem: readFileSync(join(home, 'pki', 'ca.crt'), 'utf8'),
    stop: async () => {
      await proc.stop('SIGINT');
      cleanup(home);
    },
  };
  return started;
}

/** Opens the console and submits the login form (the caller asserts what follows). */
export async function logIn(page: Page, url: string, password = ADMIN_PASSWORD): Promise<void> {
  // The desktop app's window already shows the console from app://, pointed at this backend.
  if (!page.url().startsWith('app://')) await page.goto(url);
  await page.getByTestId('login-username').fill('admin');
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
}

/** Logs in as the admin over the API and waits for the stack's own agent to be online: its id and the token. */
export async function onlineStackDevice(stack: Stack): Promise<{ deviceId: string; token: string }> {
  const login = await api(stack, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: ADMIN_PASSWORD } });
  const token = (login.body as { token: string }).token;
  let deviceId = '';
  await waitFor(async () => {
    const list = (await api(stack, 'GET', '/api/v1/devices', { token })).body as { devices: Array<{ id: string; online: boolean }> };
    deviceId = list.devices.find((d) => d.online)?.id ?? '';
    return deviceId !== '';
  }, 60_000, 'the stack device online');
  return { deviceId, token };
}
