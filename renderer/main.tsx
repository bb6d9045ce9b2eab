import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { z } from 'zod';
import { createApiClient } from './api/api-client.js';
import { App } from './app/app.js';
import { AppStoresContext, type AppStores } from './app/app-stores.js';
import { bindSession, routeConsoleMessage } from './app/session.js';
import { createAuthStore } from './auth/auth-store.js';
import { createConnectionStore } from './live/connection-store.js';
import { consoleSocketUrl, createConsoleSocket } from './live/console-socket.js';
import { createFleetStore } from './fleet/fleet-store.js';
import { createClockStore, startClock } from './time/clock-store.js';
import { createConfigApi } from './config/config-api.js';
import { createConfigStore } from './config/config-store.js';
import { createLiveSubscriptions } from './metrics/live-subscriptions.js';
import { createMonitoringApi } from './metrics/monitoring-api.js';
import { MonitoringContext, type MonitoringServices } from './metrics/monitoring-context.js';
import { createMonitoringFeed } from './metrics/monitoring-feed.js';
import { createAccessApi } from './users/access-api.js';
import { AccessStoresContext, createAccessStores } from './users/access-stores.js';
import './styles.css';
import './metrics/monitoring.css';

// The console's composition root: the one place that builds services and wires them.

// Zod's JIT probes `new Function`, which the console's CSP forbids (and reports as a violation).
z.config({ jitless: true });

const api = createApiClient();
const stores: AppStores = {
  auth: createAuthStore({ api }),
  fleet: createFleetStore({ api }),
  connection: createConnectionStore(),
  clock: createClockStore(),
  config: createConfigStore({ api: createConfigApi() }),
};

const access = createAccessStores(createAccessApi(), () => stores.auth.getState().sessionEnded());

const monitoring: MonitoringServices = {
  api: createMonitoringApi(),
  feed: createMonitoringFeed(),
  live: createLiveSubscriptions((message) => socket.send(message)),
};

const socket = createConsoleSocket({
  url: consoleSocketUrl(window.location),
  createWebSocket: (url) => new WebSocket(url),
  onMessage: (message) => {
    routeConsoleMessage(message, { ...stores, monitoring: monitoring.feed });
    // A new socket starts with no subscriptions on the backend: send the open views' again.
    if (message.type === 'ready') monitoring.live.resend();
  },
  onStatus: (status) => stores.connection.getState().setStatus(status),
  onSessionEnded: () => stores.auth.getState().sessionEnded(),
});

bindSession({ auth: stores.auth, fleet: stores.fleet, socket });
startClock(stores.clock);
void stores.auth.getState().restore();

const container = document.getElementById('root');
if (container === null) throw new Error('index.html has no #root');
createRoot(container).render(
  <StrictMode>
    <AppStoresContext value={stores}>
      <MonitoringContext value={monitoring}>
        <AccessStoresContext value={access}>
          <App />
        </AccessStoresContext>
      </MonitoringContext>
    </AppStoresContext>
  </StrictMode>,
);
