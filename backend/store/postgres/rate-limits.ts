import type pg from 'pg';
import { RateLimiterMemory, RateLimiterPostgres } from 'rate-limiter-flexible';
import type { RateLimiters } from '../../auth/rate-limiters.js';

/** The table of migration 4 (backend/store/postgres/migrations.ts): created before any node starts counting. */
export const RATE_LIMITS_TABLE = 'rate_limits';

/**
 * In PostgreSQL on the store's pool, so every node of a cluster counts the same attempts and adding
 * a node does not multiply an attacker's tries. When the database fails a query, the counter falls
 * back to one in this node's memory (rate-limiter-flexible's insurance limiter): during an outage
 * each node counts on its own, as a lone node would, so the limit neither opens nor locks everyone
 * out; what was counted in memory is not written back. Expiry is checked against each node's clock
 * (keep them in NTP sync).
 */
export function postgresLimiters(pool: pg.Pool): RateLimiters {
  return (options) => new RateLimiterPostgres({
    ...options,
    storeClient: pool,
    storeType: 'pool',
    tableName: RATE_LIMITS_TABLE,
    // Made by a migration, under the migration lock: nodes starting together do not race to create it.
    tableCreated: true,
    insuranceLimiter: new RateLimiterMemory(options),
  });
}
