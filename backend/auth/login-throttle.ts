import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { TetherError } from '../../protocol/index.js';
import { memoryLimiters, type RateLimiters } from './rate-limiters.js';

export interface LoginThrottleLimits {
  /** Failed logins per username and client address in `windowS`. */
  perUserIp: number;
  /** Failed logins per client address (any username) in `windowS`. */
  perIp: number;
  windowS: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginThrottleLimits = { perUserIp: 5, perIp: 50, windowS: 15 * 60 };

/** RATE_LIMITED with the seconds to wait, for the Retry-After header. */
export class LoginThrottledError extends TetherError {
  constructor(readonly retryAfterS: number) {
    super('RATE_LIMITED', `Too many failed logins; try again in ${retryAfterS} s`);
  }
}

/**
 * Failed-login counters per username+address (guessing one account) and per address (spraying
 * many). Kept where `limiters` keeps them: in PostgreSQL on a PostgreSQL store, so the nodes of a
 * cluster share them; in memory on SQLite (one process, where a restart forgetting the counters
 * only gives an attacker one more small window).
 */
export class LoginThrottle {
  private readonly userIp: RateLimiterAbstract;
  private readonly ip: RateLimiterAbstract;

  constructor(private readonly limits: LoginThrottleLimits = DEFAULT_LOGIN_LIMITS, limiters: RateLimiters = memoryLimiters) {
    this.userIp = limiters({ keyPrefix: 'login_user_ip', points: limits.perUserIp, duration: limits.windowS });
    this.ip = limiters({ keyPrefix: 'login_ip', points: limits.perIp, duration: limits.windowS });
  }

  /** Throws LoginThrottledError when either counter is used up; call before checking the password. */
  async check(username: string, ip: string): Promise<void> {
    const [byUser, byIp] = await Promise.all([this.userIp.get(userKey(username, ip)), this.ip.get(ip)]);
    const waits = [
      byUser && byUser.consumedPoints >= this.limits.perUserIp ? byUser.msBeforeNext : 0,
      byIp && byIp.consumedPoints >= this.limits.perIp ? byIp.msBeforeNext : 0,
    ];
    const wait = Math.max(...waits);
    if (wait > 0) throw new LoginThrottledError(Math.max(1, Math.ceil(wait / 1000)));
  }

  async failed(username: string, ip: string): Promise<void> {
    await Promise.all([this.userIp.penalty(userKey(username, ip)), this.ip.penalty(ip)]);
  }

  /** A successful login clears its username+address counter (not the address one: a sprayer may own one account). */
  async succeeded(username: string, ip: string): Promise<void> {
    await this.userIp.delete(userKey(username, ip));
  }
}

function userKey(username: string, ip: string): string {
  return `${username.toLowerCase()}|${ip}`;
}
