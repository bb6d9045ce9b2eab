import type { MetricEngine, RetentionProgress } from './metric-engine.js';

/** How long each kind of monitoring data is kept (ARCHITECTURE §5 defaults). */
export interface RetentionPolicy {
  rawMs: number;
  minuteMs: number;
  hourMs: number;
  logsMs: number;
  alertEventsMs: number;
}

const DAY = 24 * 3600 * 1000;

export const DEFAULT_RETENTION: RetentionPolicy = {
  rawMs: 2 * DAY,
  minuteMs: 30 * DAY,
  hourMs: 365 * DAY,
  logsMs: 14 * DAY,
  alertEventsMs: 90 * DAY,
};

/**
 * Deletes data older than the policy: metric chunks whole (a chunk goes once all of its window
 * has expired), other rows a bounded number per statement, so a large backlog never holds the
 * write lock (or the event loop) for long. The engine does the deleting (MetricEngine.dropExpired).
 */
export class RetentionJob {
  constructor(private readonly engine: MetricEngine, private readonly policy: RetentionPolicy = DEFAULT_RETENTION) {}

  /** Deletes expired data; returns how many rows (or chunks) per table. Stops early (more: true) after `budgetMs`. */
  run(now: number, budgetMs = 50, chunk = 5_000): Promise<RetentionProgress> {
    return this.engine.dropExpired(now, this.policy, budgetMs, chunk);
  }
}
