import { RateLimiterMemory, type RateLimiterAbstract } from 'rate-limiter-flexible';

/** One counter's settings (rate-limiter-flexible's names; `duration` and `blockDuration` in seconds). */
export interface LimiterOptions {
  keyPrefix: string;
  points: number;
  duration: number;
  blockDuration?: number;
}

/** Makes the counters of the login throttle and the enrolment limiter: where they are kept. */
export type RateLimiters = (options: LimiterOptions) => RateLimiterAbstract;

/** In this process: one backend alone on SQLite, or tests. PostgreSQL's: backend/store/postgres/rate-limits.ts. */
export const memoryLimiters: RateLimiters = (options) => new RateLimiterMemory(options);
