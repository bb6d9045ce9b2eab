import { DESKTOP_GLOBAL } from '../../protocol/desktop-global.js';
import type { AlertEvent, DesktopApi } from '../../protocol/index.js';
import { inDesktopApp } from './desktop-bridge.js';

/**
 * What differs between the console's two hosts (ARCHITECTURE §7), and nothing else:
 *
 * - browser: served by the backend; REST and WebSockets on the page's own origin, the session
 *   in an HttpOnly cookie.
 * - desktop (Electron, detected by the preload's `window.tetherDesktop`): served from app://;
 *   REST stays on relative URLs (the main process proxies /api to the active backend and adds
 *   the token), WebSockets go to the backend's own origin (the main process adds the token to
 *   the upgrade request), and alerts become native notifications.
 *
 * The page never holds the session token in either host.
 */
export interface ConsoleHost {
  readonly kind: 'browser' | 'desktop';
  /** `ws(s)://…` for a backend WebSocket path such as `/api/v1/console`. */
  socketUrl(path: string, query?: Readonly<Record<string, string>>): string;
  /** Shows a native notification in the desktop app; nothing in a browser. */
  notify(title: string, body: string): void;
  /** The desktop bridge, or null in a browser. */
  readonly desktop: DesktopApi | null;
  /** Desktop with no backend selected yet: the console shows the backends view instead. */
  readonly needsBackend: boolean;
}

function withQuery(base: string, path: string, query: Readonly<Record<string, string>> = {}): string {
  const url = new URL(path, base);
  for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
  return url.href;
}

export function browserHost(location: { protocol: string; host: string }): ConsoleHost {
  const base = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`;
  return { kind: 'browser', socketUrl: (path, query) => withQuery(base, path, query), notify: () => undefined, desktop: null, needsBackend: false };
}

/**
 * `wsOrigin` is the active backend's (`wss://host:port`), or null when no backend is selected:
 * then sockets point nowhere useful and the console shows the backends view instead.
 */
export function desktopHost(desktop: DesktopApi, wsOrigin: string | null, warn: (message: string, error: unknown) => void = console.warn): ConsoleHost {
  return {
    kind: 'desktop',
    socketUrl: (path, query) => withQuery(wsOrigin ?? 'wss://backend.invalid', path, query),
    notify: (title, body) => {
      desktop.notifications.show({ title: title.slice(0, 120), body: body.slice(0, 500) }).catch((error: unknown) => warn('cannot show a notification', error));
    },
    desktop,
    needsBackend: wsOrigin === null,
  };
}

/** The host this page runs in; asks the desktop shell for the active backend when there is one. */
export async function detectHost(scope: { readonly location: { protocol: string; host: string }; readonly [DESKTOP_GLOBAL]?: unknown }): Promise<ConsoleHost> {
  if (!inDesktopApp(scope)) return browserHost(scope.location);
  // Imported here: a browser never builds the desktop bridge's schemas.
  const { desktopApiFromBridge } = await import('../../protocol/desktop.js');
  const desktop = desktopApiFromBridge(scope[DESKTOP_GLOBAL]);
  const endpoint = await desktop.backend.endpoint().catch(() => null);
  return desktopHost(desktop, endpoint?.wsOrigin ?? null);
}

/** The notification for an alert event: firing ones only (a resolved alert is news in the alerts view, not a pop-up). */
export function alertNotification(event: AlertEvent, deviceName: (deviceId: string) => string | undefined): { title: string; body: string } | null {
  if (event.state !== 'firing') return null;
  const device = deviceName(event.deviceId) ?? event.deviceId;
  const value = event.value === null ? '' : ` (value ${Number.isInteger(event.value) ? event.value : event.value.toFixed(2)})`;
  return { title: `Alert: ${event.ruleName}`, body: `${device}${value}` };
}
