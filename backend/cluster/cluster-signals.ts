import type { NatsConnection, Subscription } from 'nats';
import type { Logger } from 'pino';
import { z } from 'zod';
import { encode, parsePayload } from './bus-messages.js';

/**
 * Changes to state every node keeps in memory, announced to the other nodes so they reload it.
 * `config.changed`: a configuration layer changed (config delivery's cached snapshot).
 * Phase 2 adds the ones for log-outs, role changes and user deletions.
 */
export const ClusterSignal = z.enum(['config.changed']);
export type ClusterSignal = z.infer<typeof ClusterSignal>;

const SignalMessage = z.object({ origin: z.string(), name: ClusterSignal });

export class ClusterSignals {
  private readonly listeners = new Map<ClusterSignal, Set<() => void>>();
  private subscription: Subscription | null = null;
  private readonly subject: string;

  constructor(private readonly nc: NatsConnection, prefix: string, private readonly nodeId: string, private readonly log: Logger) {
    this.subject = `${prefix}.signal`;
  }

  start(): void {
    this.subscription = this.nc.subscribe(this.subject, {
      callback: (err, msg) => {
        if (err) {
          this.log.error({ err }, 'cluster signal subscription failed');
          return;
        }
        const message = parsePayload(SignalMessage, msg.data);
        if (!message || message.origin === this.nodeId) return;
        for (const listener of this.listeners.get(message.name) ?? []) listener();
      },
    });
  }

  /** Tells the other nodes (not this one). */
  send(name: ClusterSignal): void {
    try {
      this.nc.publish(this.subject, encode({ origin: this.nodeId, name }));
    } catch (err) {
      this.log.warn({ err, signal: name }, 'cluster signal not sent');
    }
  }

  /** Runs `listener` when another node sends `name`. */
  on(name: ClusterSignal, listener: () => void): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  close(): void {
    this.subscription?.unsubscribe();
    this.listeners.clear();
  }
}
