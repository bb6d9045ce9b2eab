import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createApiClient } from './api/api-client.js';
import { App } from './app/app.js';
import { AppStoresContext, type AppStores } from './app/app-stores.js';
import { bindSession, routeConsoleMessage } from './app/session.js';
import { whenFirstScreenReady } from './app/first-screen.js';
import { createAuthStore } from './auth/auth-store.js';
import { createConnectionStore } from './live/connection-store.js';
import { createConsoleSocket } from './live/console-socket.js';
import { createFleetStore } from './fleet/fleet-store.js';
import { createFleetEventBatcher } from './fleet/fleet-event-batcher.js';
import { createClockStore, startClock } from './time/clock-store.js';
import { createConfigApi } from './config/config-api.js';
import { createConfigStore } from './config/config-store.js';
import { createLiveSubscriptions } from './metrics/live-subscriptions.js';
import { createMonitoringApi } from './metrics/monitoring-api.js';
import { MonitoringContext, type MonitoringServices } from './metrics/monitoring-context.js';
import { createMonitoringFeed } from './metrics/monitoring-feed.js';
import { createThemeController } from './theme/theme-controller.js';
import { ThemeContext } from './theme/theme-hooks.js';
import { DesktopGate } from './host/backends-view.js';
import { ConsoleHostContext } from './host/host-context.js';
import { alertNotification, detectHost } from './host/host.js';
import { createAccessApi } from './users/access-api.js';
import { AccessStoresContext, createAccessStores } from './users/access-stores.js';
import './styles.css';
import './theme/theme.css';
import './metrics/monitoring.css';

/** What the page's entry (boot.ts) hands over. */
export interface ConsoleStart {
  /** The API client's fetch: it may hold the start-up answers boot.ts asked for early. */
  fetch: typeof globalThis.fetch;
  /** Devices in the list's first page, the size boot.ts asked for early. */
  firstPage: number;
}

/** The console's composition root: the one place that builds services and wires them. */
export async function startConsole({ fetch, firstPage }: ConsoleStart): Promise<void> {
  // First, so the first paint already has the right colors.
  const theme = createThemeController({
    storage: (() => {
      try {
        return window.localStorage;
      } catch {
        return null; // storage denied: the theme still follows the system, unsaved
      }
    })(),
    systemDark: window.matchMedia('(prefers-color-scheme: dark)'),
    root: document.documentElement,
  });

  // Browser or desktop app: where sockets go and whether alerts pop up natively (see host/host.ts).
  const host = await detectHost(window);
  const api = createApiClient({ fetch });
  const stores: AppStores = {
    auth: createAuthStore({ api }),
    fleet: createFleetStore({ api, firstPage }),
    connection: createConnectionStore(),
    clock: createClockStore(),
    config: createConfigStore({ api: createConfigApi() }),
  };

  const fleetEvents = createFleetEventBatcher((events) => stores.fleet.getState().applyMany(events));

  const access = createAccessStores(createAccessApi(), () => stores.auth.getState().sessionEnded());

  const monitoring: MonitoringServices = {
    api: createMonitoringApi(),
    feed: createMonitoringFeed(),
    live: createLiveSubscriptions((message) => socket.send(message)),
  };

  const socket = createConsoleSocket({
    url: host.socketUrl('/api/v1/console'),
    createWebSocket: (url) => new WebSocket(url),
    onMessage: (message) => {
      routeConsoleMessage(message, { ...stores, monitoring: monitoring.feed, fleetEvents });
      if (message.type === 'alert.event') {
        const note = alertNotification(message.event, (id) => stores.fleet.getState().byId.get(id)?.name);
        if (note !== null) host.notify(note.title, note.body);
      }
      // A new socket starts with no subscriptions on the backend: send the open views' again.
      if (message.type === 'ready') monitoring.live.resend();
    },
    onStatus: (status) => stores.connection.getState().setStatus(status),
    onSessionEnded: () => stores.auth.getState().sessionEnded(),
  });

  bindSession({ auth: stores.auth, fleet: stores.fleet, socket });
  startClock(stores.clock);
  void stores.auth.getState().restore();
  // One first commit with the rows in it, rather than the splash, the empty fleet, then its rows.
  await whenFirstScreenReady(stores);

  const container = document.getElementById('root');
  if (container === null) throw new Error('index.html has no #root');
  createRoot(container).render(
    <StrictMode>
      <ConsoleHostContext value={host}>
        <AppStoresContext value={stores}>
          <ThemeContext value={theme}>
            <MonitoringContext value={monitoring}>
              <AccessStoresContext value={access}>
                <DesktopGate host={host}>
                  <App />
                </DesktopGate>
              </AccessStoresContext>
            </MonitoringContext>
          </ThemeContext>
        </AppStoresContext>
      </ConsoleHostContext>
    </StrictMode>,
  );
}
