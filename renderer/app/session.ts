import { missingCase, type ConsoleServerMessage } from '../../protocol/index.js';
import type { AuthStore } from '../auth/auth-store.js';
import type { ConsoleSocket } from '../live/console-socket.js';
import type { FleetStore } from '../fleet/fleet-store.js';
import type { FleetEventBatcher } from '../fleet/fleet-event-batcher.js';
import type { MonitoringFeed } from '../metrics/monitoring-feed.js';

export interface SessionParts {
  auth: AuthStore;
  fleet: FleetStore;
  socket: Pick<ConsoleSocket, 'start' | 'stop'>;
}

/**
 * Keeps the console socket and the fleet in step with the login state: signed in means
 * connected; signed out means disconnected with nothing of the last user left in memory.
 * A list request refused for want of a session ends it too. Returns the unsubscribe.
 */
export function bindSession({ auth, fleet, socket }: SessionParts): () => void {
  const follow = (signedIn: boolean): void => {
    if (signedIn) {
      socket.start();
      void fleet.getState().preview();
    } else {
      socket.stop();
      fleet.getState().clear();
    }
  };
  follow(auth.getState().user !== null);
  const unsubscribeAuth = auth.subscribe((state, previous) => {
    if ((state.user === null) !== (previous.user === null)) follow(state.user !== null);
  });
  const unsubscribeFleet = fleet.subscribe((state, previous) => {
    const code = state.loadError?.code;
    if (state.loadError !== previous.loadError && (code === 'SESSION_INVALID' || code === 'UNAUTHORIZED')) auth.getState().sessionEnded();
  });
  return () => {
    unsubscribeAuth();
    unsubscribeFleet();
  };
}

/**
 * Routes one console message. `ready` starts every connection, the first and each reconnect,
 * so it is where the list is (re)fetched: events missed while disconnected are in the new list.
 */
export function routeConsoleMessage(
  message: ConsoleServerMessage,
  { fleet, monitoring, fleetEvents }: Pick<SessionParts, 'fleet'> & { monitoring?: MonitoringFeed; fleetEvents?: FleetEventBatcher },
): void {
  switch (message.type) {
    case 'ready':
      // Queued events predate the list about to be fetched: apply them first, not on top of it.
      fleetEvents?.flush();
      void fleet.getState().load();
      return;
    case 'device.upsert':
    case 'device.status':
    case 'device.removed':
      if (fleetEvents) fleetEvents.push(message);
      else fleet.getState().apply(message);
      return;
    case 'device.response':
      // The skeleton sends no device requests yet, so no answer is awaited.
      return;
    case 'metrics.samples':
    case 'metrics.latest':
    case 'logs.lines':
    case 'alert.event':
      monitoring?.publish(message);
      return;
    default:
      missingCase(message);
  }
}
