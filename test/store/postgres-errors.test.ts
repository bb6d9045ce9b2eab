import { createServer } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorBody } from '../../backend/http/error-handler.js';
import { storeUnavailable } from '../../backend/store/store-health.js';
import { createTestDatabase } from './test-database.js';

/** The error a promise rejects with (a test failure when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** Real failures from a real PostgreSQL server and its driver, coded the way users see them. */
describe('PostgreSQL outages are STORE_UNAVAILABLE, bad input is not', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database.drop();
  });

  it('a refused connection', async () => {
    // A port that was free a moment ago: nothing listens there now.
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    const client = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
    const err = await rejection(client.connect());
    expect(storeUnavailable(err)?.code).toBe('STORE_UNAVAILABLE');
    expect(errorBody(err)).toMatchObject({ status: 503, body: { code: 'STORE_UNAVAILABLE' } });
  });

  it('a connection the server ends (administrator command) and the query that was using it', async () => {
    const victim = new pg.Client({ connectionString: database.url });
    await victim.connect();
    victim.on('error', () => undefined);
    const pid = (await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    const sleeping = rejection(victim.query('SELECT pg_sleep(10)'));
    await new Promise((r) => setTimeout(r, 200));
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    await admin.end();
    expect(storeUnavailable(await sleeping)?.code).toBe('STORE_UNAVAILABLE');
    // The client is unusable afterwards: its next query fails the same way.
    expect(storeUnavailable(await rejection(victim.query('SELECT 1')))?.code).toBe('STORE_UNAVAILABLE');
  });

  it('a serialization failure between two serializable transactions', async () => {
    const setup = new pg.Client({ connectionString: database.url });
    await setup.connect();
    await setup.query('CREATE TABLE IF NOT EXISTS counter (id int PRIMARY KEY, n int NOT NULL); INSERT INTO counter VALUES (1, 0) ON CONFLICT DO NOTHING');
    await setup.end();
    const [a, b] = [new pg.Client({ connectionString: database.url }), new pg.Client({ connectionString: database.url })];
    await Promise.all([a.connect(), b.connect()]);
    for (const c of [a, b]) {
      await c.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
      await c.query('SELECT n FROM counter WHERE id = 1');
    }
    await a.query('UPDATE counter SET n = n + 1 WHERE id = 1');
    const second = rejection(b.query('UPDATE counter SET n = n + 1 WHERE id = 1'));
    await a.query('COMMIT');
    const err = await second;
    expect((err as { code?: string }).code).toBe('40001');
    expect(storeUnavailable(err)?.code).toBe('STORE_UNAVAILABLE');
    await b.query('ROLLBACK');
    await Promise.all([a.end(), b.end()]);
  });

  it('leaves a unique violation and a syntax error alone: those are bugs or bad input', async () => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await client.query('CREATE TABLE IF NOT EXISTS names (name text PRIMARY KEY)');
    await client.query("INSERT INTO names VALUES ('a')");
    const duplicate = await rejection(client.query("INSERT INTO names VALUES ('a')"));
    expect((duplicate as { code?: string }).code).toBe('23505');
    expect(storeUnavailable(duplicate)).toBeUndefined();
    expect(storeUnavailable(await rejection(client.query('SELEC 1')))).toBeUndefined();
    await client.end();
  });
});
