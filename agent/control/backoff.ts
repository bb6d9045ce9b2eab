/**
 * Reconnect delays: exponential with full jitter (AWS architecture blog, "Exponential Backoff
 * And Jitter"), so a backend restart does not bring every agent back in the same second.
 * Written here rather than taken from a retry library because the loop never ends: it is a
 * delay schedule for a persistent connection, reset after a stable period, not a retried call.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly baseMs = 1_000,
    private readonly maxMs = 60_000,
    private readonly random: () => number = Math.random,
  ) {}

  /** The next delay: uniform in [0, min(max, base·2^attempt)). */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.floor(this.random() * ceiling);
  }

  /** After a connection stayed up long enough. */
  reset(): void {
    this.attempt = 0;
  }
}
