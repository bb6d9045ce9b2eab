import { describe, expect, it, vi } from 'vitest';
import { createDesktopBridge, type AlertEvent } from '../../protocol/index.js';
import { inDesktopApp } from './desktop-bridge.js';
import { alertNotification, browserHost, desktopHost, detectHost } from './host.js';

/** A desktop bridge answering like the main process would; `show` records notifications. */
function fakeBridge(endpoint: unknown = { profileId: 'prof_aaaaaaaa', name: 'Lab', httpOrigin: 'https://fleet.example:8443', wsOrigin: 'wss://fleet.example:8443' }) {
  const shown: unknown[] = [];
  const bridge = createDesktopBridge(async (channel, args) => {
    if (channel === 'tether-desktop:backend.endpoint') return { ok: true, value: endpoint };
    if (channel === 'tether-desktop:notifications.show') {
      shown.push(args[0]);
      return { ok: true, value: null };
    }
    return { ok: false, code: 'IPC_FORBIDDEN', message: 'no' };
  });
  return { bridge, shown };
}

describe('browser host', () => {
  it('opens sockets on the page origin, wss for https', () => {
    expect(browserHost({ protocol: 'https:', host: 'fleet.example:8443' }).socketUrl('/api/v1/console')).toBe('wss://fleet.example:8443/api/v1/console');
    expect(browserHost({ protocol: 'http:', host: 'localhost:5173' }).socketUrl('/api/v1/shell', { deviceId: 'dev_1', cols: '80' })).toBe(
      'ws://localhost:5173/api/v1/shell?deviceId=dev_1&cols=80',
    );
  });
});

describe('detectHost', () => {
  it('is the browser without the preload global', async () => {
    const host = await detectHost({ location: { protocol: 'https:', host: 'a.example' } });
    expect(host.kind).toBe('browser');
    expect(host.desktop).toBeNull();
  });

  it("is the desktop with it, with sockets on the active backend's origin, not app://", async () => {
    const { bridge } = fakeBridge();
    const host = await detectHost({ location: { protocol: 'app:', host: 'tether' }, tetherDesktop: bridge });
    expect(host.kind).toBe('desktop');
    expect(host.needsBackend).toBe(false);
    expect(host.socketUrl('/api/v1/console')).toBe('wss://fleet.example:8443/api/v1/console');
    expect(host.socketUrl('/api/v1/shell', { sessionId: 's 1' })).toBe('wss://fleet.example:8443/api/v1/shell?sessionId=s+1');
  });

  it('points sockets nowhere when no backend is selected', async () => {
    const { bridge } = fakeBridge(null);
    const host = await detectHost({ location: { protocol: 'app:', host: 'tether' }, tetherDesktop: bridge });
    expect(host.socketUrl('/api/v1/console')).toBe('wss://backend.invalid/api/v1/console');
    expect(host.needsBackend).toBe(true);
  });

  it('sends notifications through the bridge, cut to the contract limits', async () => {
    const { bridge, shown } = fakeBridge();
    const host = await detectHost({ location: { protocol: 'app:', host: 'tether' }, tetherDesktop: bridge });
    host.notify('CPU high', 'x'.repeat(600));
    await vi.waitFor(() => expect(shown).toHaveLength(1));
    expect(shown[0]).toEqual({ title: 'CPU high', body: 'x'.repeat(500) });
    browserHost({ protocol: 'https:', host: 'a' }).notify('t', 'b');
  });

  it('logs, not throws, when the shell refuses a notification', async () => {
    const warn = vi.fn();
    const { bridge } = fakeBridge();
    const { desktopApiFromBridge } = await import('../../protocol/index.js');
    const api = desktopApiFromBridge(bridge);
    const broken = { ...api, notifications: { show: () => Promise.reject(new Error('denied')) } };
    desktopHost(broken, null, warn).notify('a', 'b');
    await vi.waitFor(() => expect(warn).toHaveBeenCalledOnce());
  });
});

describe('alertNotification', () => {
  const event = (over: Partial<AlertEvent> = {}): AlertEvent => ({ id: 1, ruleId: 2, ruleName: 'CPU > 90%', deviceId: 'dev_abcdefghijklmnopqrst', state: 'firing', ts: 0, value: 97.1234, ...over });

  it('names the rule, the device and the value of a firing alert', () => {
    expect(alertNotification(event(), () => 'robot-7')).toEqual({ title: 'Alert: CPU > 90%', body: 'robot-7 (value 97.12)' });
    expect(alertNotification(event({ value: null }), () => undefined)).toEqual({ title: 'Alert: CPU > 90%', body: 'dev_abcdefghijklmnopqrst' });
  });

  it('stays quiet when an alert resolves', () => {
    expect(alertNotification(event({ state: 'resolved' }), () => 'robot-7')).toBeNull();
  });
});

describe('inDesktopApp', () => {
  it('is true only where the preload exposed a bridge', () => {
    expect(inDesktopApp({})).toBe(false);
    expect(inDesktopApp({ tetherDesktop: null })).toBe(false);
    expect(inDesktopApp({ tetherDesktop: fakeBridge().bridge })).toBe(true);
  });
});
