import type { AlertEvent, MonitoringClientMessage, MonitoringServerMessage, StoredLogLine } from '../../protocol/index.js';
import { missingCase } from '../../protocol/index.js';
import type { StoredBatch } from './metric-engine.js';
import type { LatestValues } from './latest-values.js';

type Send = (message: MonitoringServerMessage) => void;

/** What a node feeds into live monitoring: committed batches, alert transitions. */
export type LiveFeed = { type: 'stored'; batches: readonly StoredBatch[] } | { type: 'alert'; event: AlertEvent };

interface Subscriber {
  send: Send;
  devices: Set<string>;
  fleetNames: string[] | null;
  logs: { deviceId: string | undefined } | null;
}

/** Devices one console may follow sample by sample at once. */
const MAX_DEVICE_SUBSCRIPTIONS = 32;

/**
 * Live monitoring for consoles: every committed sample of a followed device, the fleet's
 * latest values coalesced to one message per interval (so 10,000 devices cost one frame a
 * second, not 2,000), new log lines, and alert events.
 */
export class MonitoringLive {
  private readonly subscribers = new Set<Subscriber>();
  private readonly taps = new Set<(feed: LiveFeed) => void>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly latest: LatestValues, coalesceMs = 1_000) {
    this.timer = setInterval(() => this.pushFleet(), coalesceMs);
    this.timer.unref();
  }

  /** Feed of committed batches (wire to IngestQueue.onStored). */
  stored(batches: readonly StoredBatch[]): void {
    for (const tap of this.taps) tap({ type: 'stored', batches });
    for (const b of batches) this.latest.update(b.deviceId, b.metrics);
    if (this.subscribers.size === 0) return;
    for (const sub of this.subscribers) {
      const lines: StoredLogLine[] = [];
      for (const b of batches) {
        if (b.metrics.length > 0 && sub.devices.has(b.deviceId)) sub.send({ type: 'metrics.samples', deviceId: b.deviceId, samples: b.metrics });
        if (sub.logs && (sub.logs.deviceId === undefined || sub.logs.deviceId === b.deviceId)) {
          for (const line of b.logs) lines.push({ ...line, deviceId: b.deviceId });
        }
      }
      if (lines.length > 0) sub.send({ type: 'logs.lines', lines });
    }
  }

  alert(event: AlertEvent): void {
    for (const tap of this.taps) tap({ type: 'alert', event });
    for (const sub of this.subscribers) sub.send({ type: 'alert.event', event });
  }

  /** Hears everything fed in (a cluster node relays it to the other nodes); returns the stop. */
  tap(listener: (feed: LiveFeed) => void): () => void {
    this.taps.add(listener);
    return () => this.taps.delete(listener);
  }

  /** One console's live state; the hub calls handle() for monitoring messages and detach() on close. */
  attach(send: Send): { handle(message: MonitoringClientMessage): void; detach(): void } {
    const sub: Subscriber = { send, devices: new Set(), fleetNames: null, logs: null };
    this.subscribers.add(sub);
    return {
      handle: (message) => {
        switch (message.type) {
          case 'metrics.subscribe':
            if (message.target === '*') {
              sub.fleetNames = message.names ?? [];
              send({ type: 'metrics.latest', devices: this.latest.snapshot(sub.fleetNames.length > 0 ? sub.fleetNames : undefined) });
            } else if (sub.devices.size < MAX_DEVICE_SUBSCRIPTIONS || sub.devices.has(message.target)) {
              sub.devices.add(message.target);
            }
            return;
          case 'metrics.unsubscribe':
            if (message.target === '*') sub.fleetNames = null;
            else sub.devices.delete(message.target);
            return;
          case 'logs.subscribe':
            sub.logs = { deviceId: message.deviceId };
            return;
          case 'logs.unsubscribe':
            sub.logs = null;
            return;
          default:
            missingCase(message);
        }
      },
      detach: () => {
        this.subscribers.delete(sub);
      },
    };
  }

  private pushFleet(): void {
    const changed = this.latest.takeChanged();
    if (changed.length === 0) return;
    for (const sub of this.subscribers) {
      if (sub.fleetNames === null) continue;
      sub.send({ type: 'metrics.latest', devices: this.latest.snapshot(sub.fleetNames.length > 0 ? sub.fleetNames : undefined, changed) });
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.subscribers.clear();
  }
}
