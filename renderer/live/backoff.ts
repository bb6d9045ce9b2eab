/**
 * Reconnect delays: exponential growth with full jitter, so consoles that lost the same backend
 * do not all come back in the same instant. Written here rather than taken from a retry library
 * because it is a dozen lines and none is a dependency of the console bundle.
 */
export interface BackoffOptions {
  /** First ceiling in ms. */
  baseMs?: number;
  /** The ceiling never grows past this. */
  maxMs?: number;
  /** Shortest delay, so a backend that closes at once is not hammered. */
  minMs?: number;
  /** Injected for tests; `Math.random` by default. */
  random?: () => number;
}

/** Delay in ms before reconnect attempt number `attempt` (0-based). */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const { baseMs = 1_000, maxMs = 30_000, minMs = 250, random = Math.random } = options;
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(minMs + random() * Math.max(0, ceiling - minMs));
}
