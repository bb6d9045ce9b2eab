import type { NatsConnection } from 'nats';
import type { Logger } from 'pino';
import type { FleetEvents } from '../devices/fleet-events.js';
import { clusterNames, encode, FleetEventMessage, isRelayedFleetEvent, parsePayload } from './bus-messages.js';

/**
 * Fans this node's fleet changes (enrolments, edits, approvals, revocations, removals) out to
 * every node, and emits theirs here, so each node's device directory and consoles follow the
 * whole fleet. Online/offline is not relayed: every node derives it from the presence bucket
 * (DeviceLocations), which also covers a node that dies without a word. Returns the stop.
 */
export function relayFleetEvents(deps: { nc: NatsConnection; prefix: string; nodeId: string; events: FleetEvents; log: Logger }): () => void {
  const subject = clusterNames(deps.prefix).fleet;
  // Set while a remote event is emitted here, so it is not sent back out (emit is synchronous).
  let relaying = false;
  const unsubscribe = deps.events.subscribe((event) => {
    if (relaying || !isRelayedFleetEvent(event)) return;
    try {
      deps.nc.publish(subject, encode({ origin: deps.nodeId, event }));
    } catch (err) {
      deps.log.warn({ err, event: event.type }, 'fleet change not sent to the other nodes');
    }
  });
  const subscription = deps.nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err) {
        deps.log.error({ err }, 'fleet relay subscription failed');
        return;
      }
      const message = parsePayload(FleetEventMessage, msg.data);
      if (!message || message.origin === deps.nodeId) return;
      relaying = true;
      try {
        deps.events.emit(message.event);
      } finally {
        relaying = false;
      }
    },
  });
  return () => {
    unsubscribe();
    subscription.unsubscribe();
  };
}
