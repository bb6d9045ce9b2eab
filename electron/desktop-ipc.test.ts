import { describe, expect, it, vi } from 'vitest';
import {
  createDesktopBridge,
  DesktopError,
  desktopApiFromBridge,
  desktopOperations,
  TetherError,
  type DesktopHandlers,
} from '../protocol/index.js';
import { createDesktopChannels, isTrustedSender, type IpcSenderEvent } from './desktop-ipc.js';

const PIN = `sha256:${'ab'.repeat(32)}`;
const DEVICE = 'dev_abcdefghijklmnopqrst';
const OUR_WINDOW = 7;

const event = (url: string, options: { id?: number; parent?: unknown; noFrame?: boolean } = {}): IpcSenderEvent => ({
  sender: { id: options.id ?? OUR_WINDOW },
  senderFrame: options.noFrame ? null : { url, parent: options.parent ?? null },
});

describe('isTrustedSender', () => {
  const ours = new Set([OUR_WINDOW]);

  it('trusts the top frame of our window on our app:// origin', () => {
    expect(isTrustedSender(event('app://tether/index.html#/devices'), ours)).toBe(true);
  });

  it.each([
    ['a backend page', event('https://fleet.example:8443/')],
    ['a look-alike custom host', event('app://tether.evil/index.html')],
    ['another custom scheme', event('evil://tether/index.html')],
    ['a file page', event('file:///tmp/x.html')],
    ['a data URL', event('data:text/html,x')],
    ['a sub-frame of our page', event('app://tether/index.html', { parent: {} })],
    ['a window that is not ours', event('app://tether/index.html', { id: 99 })],
    ['a destroyed frame', event('app://tether/index.html', { noFrame: true })],
  ])('refuses %s', (_label, e) => {
    expect(isTrustedSender(e, ours)).toBe(false);
  });
});

/** A main-process implementation that records its calls. */
function handlers() {
  const calls: unknown[][] = [];
  const record = <T>(value: T) => (...args: unknown[]) => {
    calls.push(args);
    return value;
  };
  const impl: DesktopHandlers = {
    profiles: {
      list: record({ profiles: [], activeId: null }),
      add: record({ id: 'prof_aaaaaaaa', name: 'Lab', url: 'https://lab.example', caPin: PIN }),
      remove: () => {
        throw new TetherError('PROFILE_UNKNOWN');
      },
      select: record(null),
    },
    session: { status: record({ signedIn: true, storage: 'memory' }), clear: record(null) },
    backend: { endpoint: record(null) },
    notifications: {
      show: () => {
        throw new Error('the notification daemon crashed');
      },
    },
    terminal: { popOut: record(null) },
    forwards: { list: record([]), start: () => { throw new TetherError('DEVICE_OFFLINE'); }, stop: record(null) },
  };
  return { impl, calls };
}

/** Wires page → preload bridge → checked main channels the way Electron would, minus Electron. */
function loopback(senderEvent: IpcSenderEvent, impl: DesktopHandlers, log = vi.fn()) {
  const channels = createDesktopChannels(impl, () => new Set([OUR_WINDOW]), log);
  const bridge = createDesktopBridge(async (channel, args) => {
    const handler = channels.get(channel);
    if (handler === undefined) throw new Error(`No handler registered for '${channel}'`);
    // Electron passes the arguments through structured clone.
    return handler(senderEvent, ...(structuredClone(args) as unknown[]));
  });
  return { api: desktopApiFromBridge(bridge), channels, bridge, log };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return error instanceof DesktopError ? error.code : 'not a DesktopError';
  }
  return 'resolved';
}

describe('the desktop API, end to end through the checked channels', () => {
  it('has exactly one channel per operation', () => {
    const { channels } = loopback(event('app://tether/'), handlers().impl);
    expect([...channels.keys()].sort()).toEqual(desktopOperations().map((o) => o.channel).sort());
    expect(channels.size).toBe(12);
  });

  it('answers a trusted page with typed values, arguments parsed', async () => {
    const { impl, calls } = handlers();
    const { api } = loopback(event('app://tether/index.html'), impl);
    expect(await api.session.status()).toEqual({ signedIn: true, storage: 'memory' });
    expect(await api.profiles.add({ name: ' Lab ', url: 'https://lab.example/', caPin: PIN })).toMatchObject({ id: 'prof_aaaaaaaa' });
    // The main side receives the parsed value: trimmed name, URL as an origin.
    expect(calls).toContainEqual([{ name: 'Lab', url: 'https://lab.example', caPin: PIN }]);
    await api.terminal.popOut(DEVICE);
    expect(calls).toContainEqual([DEVICE]);
  });

  it('refuses a page that is not ours with IPC_FORBIDDEN, before the implementation runs', async () => {
    const { impl, calls } = handlers();
    const { api } = loopback(event('https://evil.test/'), impl);
    expect(await codeOf(api.terminal.popOut(DEVICE))).toBe('IPC_FORBIDDEN');
    expect(await codeOf(api.profiles.list())).toBe('IPC_FORBIDDEN');
    expect(calls).toEqual([]);
  });

  it('refuses bad arguments with BAD_REQUEST on the main side even when the page skips its own check', async () => {
    const { impl, calls } = handlers();
    const { bridge } = loopback(event('app://tether/'), impl);
    // A compromised page calls the bridge directly with whatever it likes.
    expect(await bridge.terminal.popOut('../../etc/passwd')).toMatchObject({ ok: false, code: 'BAD_REQUEST' });
    expect(await bridge.terminal.popOut(DEVICE, 'extra')).toMatchObject({ ok: false, code: 'BAD_REQUEST' });
    expect(await bridge.profiles.add({ name: 'x', url: 'http://plain.example', caPin: PIN })).toMatchObject({ ok: false, code: 'BAD_REQUEST' });
    expect(await bridge.notifications.show({ title: 'x'.repeat(1000), body: '' })).toMatchObject({ ok: false, code: 'BAD_REQUEST' });
    expect(calls).toEqual([]);
  });

  it('checks arguments on the page side too', async () => {
    const { api } = loopback(event('app://tether/'), handlers().impl);
    expect(await codeOf(api.terminal.popOut('not-a-device'))).toBe('BAD_REQUEST');
  });

  it('passes TetherError codes through and hides other failures as INTERNAL', async () => {
    const log = vi.fn();
    const { api } = loopback(event('app://tether/'), handlers().impl, log);
    expect(await codeOf(api.profiles.remove('prof_bbbbbbbb'))).toBe('PROFILE_UNKNOWN');
    expect(await codeOf(api.notifications.show({ title: 'CPU high', body: 'dev-1' }))).toBe('INTERNAL');
    expect(log).toHaveBeenCalledOnce();
  });

  it('turns an out-of-contract answer into BAD_RESPONSE', async () => {
    const { impl } = handlers();
    const broken = { ...impl, session: { ...impl.session, status: () => ({ signedIn: 'yes' }) } } as unknown as DesktopHandlers;
    const { api } = loopback(event('app://tether/'), broken);
    expect(await codeOf(api.session.status())).toBe('BAD_RESPONSE');
    expect(await codeOf(desktopApiFromBridge({}).profiles.list())).toBe('BAD_RESPONSE');
  });
});
