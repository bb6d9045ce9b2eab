import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoginThrottle, LoginThrottledError } from '../../backend/auth/login-throttle.js';
import { openPostgres, type PostgresStore } from '../../backend/store/postgres/pool.js';
import { postgresLimiters } from '../../backend/store/postgres/rate-limits.js';
import { createTestDatabase } from './test-database.js';

const LIMITS = { perUserIp: 3, perIp: 100, windowS: 900 };

async function refusal(p: Promise<void>): Promise<string | null> {
  try {
    await p;
    return null;
  } catch (err) {
    if (err instanceof LoginThrottledError) return err.code;
    throw err;
  }
}

describe('login counters in PostgreSQL (migration 4, rate_limits)', () => {
  let database: { url: string; drop(): Promise<void> };
  const stores: PostgresStore[] = [];
  let deadPool: pg.Pool | undefined;

  beforeAll(async () => {
    database = await createTestDatabase();
    // Two nodes: two pools on one database, as two backend processes have.
    for (let i = 0; i < 2; i++) stores.push(await openPostgres({ url: database.url, max: 2 }));
  });
  afterAll(async () => {
    for (const store of stores) await store.close();
    await deadPool?.end();
    await database.drop();
  });

  it('two throttles on one database count the same failures, and a success on one clears the username counter for both', async () => {
    const [a, b] = stores.map((store) => new LoginThrottle(LIMITS, postgresLimiters(store.pool)));
    if (!a || !b) throw new Error('two stores');
    await a.failed('alice', '192.0.2.1');
    await b.failed('ALICE', '192.0.2.1');
    expect(await refusal(a.check('alice', '192.0.2.1'))).toBeNull();
    await a.failed('alice', '192.0.2.1');
    expect(await refusal(b.check('alice', '192.0.2.1'))).toBe('RATE_LIMITED');
    expect(await refusal(a.check('alice', '192.0.2.1'))).toBe('RATE_LIMITED');
    expect(await refusal(b.check('alice', '192.0.2.2'))).toBeNull();
    const rows = await stores[0]!.pool.query<{ key: string; points: number }>('SELECT key, points FROM rate_limits ORDER BY key');
    expect(rows.rows).toEqual([{ key: 'login_ip:192.0.2.1', points: 3 }, { key: 'login_user_ip:alice|192.0.2.1', points: 3 }]);
    await b.succeeded('alice', '192.0.2.1');
    expect(await refusal(a.check('alice', '192.0.2.1'))).toBeNull();
  });

  it('with the database unreachable, a node counts in its memory: nobody is locked out by the outage, and the limit still holds', async () => {
    // Nothing listens on port 1: every query fails at once.
    deadPool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/none', connectionTimeoutMillis: 1_000 });
    deadPool.on('error', () => undefined);
    const throttle = new LoginThrottle(LIMITS, postgresLimiters(deadPool));
    expect(await refusal(throttle.check('bob', '198.51.100.1'))).toBeNull();
    for (let i = 0; i < LIMITS.perUserIp; i++) await throttle.failed('bob', '198.51.100.1');
    expect(await refusal(throttle.check('bob', '198.51.100.1'))).toBe('RATE_LIMITED');
    expect(await refusal(throttle.check('carol', '198.51.100.1'))).toBeNull();
  });
});
