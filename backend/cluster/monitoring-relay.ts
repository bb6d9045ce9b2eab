import type { NatsConnection } from 'nats';
import type { Logger } from 'pino';
import { z } from 'zod';
import { AlertEvent, DeviceId, LogLine, MetricSample } from '../../protocol/index.js';
import type { LiveFeed, MonitoringLive } from '../metrics/monitoring-live.js';
import { clusterNames, encode, parsePayload } from './bus-messages.js';

const StoredBatchMessage = z.object({ deviceId: DeviceId, metrics: z.array(MetricSample), logs: z.array(LogLine.extend({ id: z.number().int() })) });

export const MonitoringMessage = z.object({
  origin: z.string(),
  feed: z.discriminatedUnion('type', [
    z.object({ type: z.literal('stored'), batches: z.array(StoredBatchMessage) }),
    z.object({ type: z.literal('alert'), event: AlertEvent }),
  ]),
});

/** A message's bytes at most, under NATS's default max_payload of 1 MiB. */
const MAX_MESSAGE_BYTES = 900 * 1024;

/**
 * Fans what this node feeds into live monitoring (the batches it ingested, the alert transitions
 * it won) out to every node, and feeds theirs in here. Each node's consoles thus see live
 * metrics, logs and alerts of the whole fleet whichever node a device's telemetry reached, and
 * each node's latest values, which alert rules are evaluated on, cover the whole fleet (a
 * transition is a conditional write, so it still fires once). Returns the stop.
 */
export function relayMonitoring(deps: { nc: NatsConnection; prefix: string; nodeId: string; live: Pick<MonitoringLive, 'tap' | 'stored' | 'alert'>; log: Logger }): () => void {
  const subject = clusterNames(deps.prefix).monitoring;
  // Set while another node's feed is fed in here, so it is not sent back out (feeding is synchronous).
  let relaying = false;
  const publish = (feed: LiveFeed): void => {
    const bytes = encode({ origin: deps.nodeId, feed });
    if (bytes.length > MAX_MESSAGE_BYTES && feed.type === 'stored' && feed.batches.length > 1) {
      const half = Math.ceil(feed.batches.length / 2);
      publish({ type: 'stored', batches: feed.batches.slice(0, half) });
      publish({ type: 'stored', batches: feed.batches.slice(half) });
      return;
    }
    try {
      deps.nc.publish(subject, bytes);
    } catch (err) {
      deps.log.warn({ err, feed: feed.type }, 'live monitoring not sent to the other nodes');
    }
  };
  const untap = deps.live.tap((feed) => {
    if (!relaying) publish(feed);
  });
  const subscription = deps.nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err) {
        deps.log.error({ err }, 'monitoring relay subscription failed');
        return;
      }
      const message = parsePayload(MonitoringMessage, msg.data);
      if (!message || message.origin === deps.nodeId) return;
      relaying = true;
      try {
        if (message.feed.type === 'stored') deps.live.stored(message.feed.batches);
        else deps.live.alert(message.feed.event);
      } finally {
        relaying = false;
      }
    },
  });
  return () => {
    untap();
    subscription.unsubscribe();
  };
}
