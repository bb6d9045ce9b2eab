import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { TetherError } from '../../protocol/index.js';
import { memoryLimiters, type RateLimiters } from '../auth/rate-limiters.js';

/** Failed registrations allowed per IP and window before the IP is locked out for `blockSeconds`. */
export interface RegisterLimits {
  failures: number;
  windowSeconds: number;
  blockSeconds: number;
}

export const DEFAULT_REGISTER_LIMITS: RegisterLimits = { failures: 10, windowSeconds: 60, blockSeconds: 300 };

/** Token failures count toward the limit; a bad CSR or body does not guess anything. */
const GUESS_CODES = new Set(['TOKEN_INVALID', 'TOKEN_EXPIRED', 'TOKEN_USED_UP', 'TOKEN_REVOKED']);

/**
 * Registration tokens are 256-bit, but a guessing loop still costs a hash and a DB read per try
 * and floods the audit log; after `failures` wrong tokens an IP gets RATE_LIMITED, even for a
 * right guess, until the block expires. Successful registrations cost nothing, so a fleet
 * enrolling behind one NAT is not slowed down. Counted where `limiters` keeps counts (shared by a
 * cluster's nodes on PostgreSQL).
 */
export class RegisterLimiter {
  private readonly limiter: RateLimiterAbstract;

  constructor(private readonly limits: RegisterLimits = DEFAULT_REGISTER_LIMITS, limiters: RateLimiters = memoryLimiters) {
    this.limiter = limiters({ points: limits.failures, duration: limits.windowSeconds, blockDuration: limits.blockSeconds, keyPrefix: 'register' });
  }

  /** Runs `register` for `ip` unless the IP is locked out; the error carries `retryAfterS`. */
  async guard<T>(ip: string, register: () => Promise<T>): Promise<T> {
    const state = await this.limiter.get(ip);
    if (state !== null && state.remainingPoints <= 0) {
      // Guessing on while locked out turns the rest of the window into a `blockSeconds` block.
      const res: unknown = await this.limiter.consume(ip).catch((rejected: unknown) => rejected);
      throw limited(res instanceof RateLimiterRes ? res.msBeforeNext : state.msBeforeNext);
    }
    try {
      return await register();
    } catch (err) {
      if (err instanceof TetherError && GUESS_CODES.has(err.code)) {
        await this.limiter.consume(ip).catch((res: unknown) => {
          if (!(res instanceof RateLimiterRes)) throw res;
        });
      }
      throw err;
    }
  }
}

/** RATE_LIMITED with the wait, for the Retry-After header. */
export class RateLimitedError extends TetherError {
  constructor(readonly retryAfterS: number) {
    super('RATE_LIMITED', `Too many failed registrations from this address; retry in ${retryAfterS} s`);
  }
}

function limited(msBeforeNext: number): RateLimitedError {
  return new RateLimitedError(Math.max(1, Math.ceil(msBeforeNext / 1000)));
}
