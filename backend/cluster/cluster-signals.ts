import type { NatsConnection, Subscription } from 'nats';
import type { Logger } from 'pino';
import { z } from 'zod';
import { encode, parsePayload } from './bus-messages.js';

/**
 * Changes to state every node keeps in memory, announced to the other nodes so they reload it.
 * - `config.changed`: a configuration layer changed (config delivery's cached snapshot).
 * - `sessions.changed`: a log-out (`userId` null: which session is not said, every cached one is
 *   checked again), or a user's sessions ended (log out everywhere, role or scope change,
 *   deletion): the user's cached sessions go and their open sockets close.
 * - `run.cancelled`: a run was cancelled on a node not running it; the node running it stops it.
 * - `shell.adopted`: a node took over a shell session (its console reconnected there); the node
 *   that had it lets it go.
 */
export const ClusterSignal = z.discriminatedUnion('name', [
  z.object({ name: z.literal('config.changed') }),
  z.object({ name: z.literal('sessions.changed'), userId: z.number().int().nullable() }),
  z.object({ name: z.literal('run.cancelled'), runId: z.string().min(1).max(100) }),
  z.object({ name: z.literal('shell.adopted'), sessionId: z.string().min(1).max(100) }),
]);
export type ClusterSignal = z.infer<typeof ClusterSignal>;
type SignalName = ClusterSignal['name'];

const SignalMessage = z.object({ origin: z.string(), signal: ClusterSignal });

export class ClusterSignals {
  private readonly listeners = new Map<SignalName, Set<(signal: ClusterSignal) => void>>();
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
        for (const listener of this.listeners.get(message.signal.name) ?? []) listener(message.signal);
      },
    });
  }

  /** Tells the other nodes (not this one). */
  send(signal: ClusterSignal): void {
    try {
      this.nc.publish(this.subject, encode({ origin: this.nodeId, signal }));
    } catch (err) {
      this.log.warn({ err, signal: signal.name }, 'cluster signal not sent');
    }
  }

  /** Runs `listener` when another node sends a signal named `name`. */
  on<N extends SignalName>(name: N, listener: (signal: Extract<ClusterSignal, { name: N }>) => void): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    // Only signals named `name` reach this set.
    const entry = listener as (signal: ClusterSignal) => void;
    set.add(entry);
    return () => set.delete(entry);
  }

  close(): void {
    this.subscription?.unsubscribe();
    this.listeners.clear();
  }
}
