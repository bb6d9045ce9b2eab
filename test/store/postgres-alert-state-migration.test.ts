import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { migratePostgres } from '../../backend/store/postgres/migrate.js';
import { POSTGRES_MIGRATIONS } from '../../backend/store/postgres/migrations.js';
import { createTestDatabase } from './test-database.js';

let database: { url: string; drop(): Promise<void> };
let pool: pg.Pool;
beforeAll(async () => {
  database = await createTestDatabase();
  pool = new pg.Pool({ connectionString: database.url, max: 2 });
});
afterAll(async () => {
  await pool.end();
  await database.drop();
});

it('postgres v2 adds alert state from the last event of each (rule, device) and keeps the search vectors of stored log lines', async () => {
  expect(await migratePostgres(pool, POSTGRES_MIGRATIONS.slice(0, 1))).toBe(1);
  await pool.query(`INSERT INTO alert_events(rule_id, rule_name, device_id, state, ts) VALUES
    (1, 'r', 'a', 'firing', 0), (1, 'r', 'b', 'firing', 0), (1, 'r', 'a', 'resolved', 0), (2, 'r', 'a', 'firing', 0)`);
  await pool.query("INSERT INTO logs(device_id, ts, level, source, message) VALUES ('a', 1, 'info', 'kernel', 'disk full')");
  expect(await migratePostgres(pool, POSTGRES_MIGRATIONS.slice(0, 2))).toBe(1);
  const state = await pool.query('SELECT rule_id::int, device_id, state, event_id::int FROM alert_state ORDER BY rule_id, device_id');
  expect(state.rows).toEqual([
    { rule_id: 1, device_id: 'a', state: 'resolved', event_id: 3 },
    { rule_id: 1, device_id: 'b', state: 'firing', event_id: 2 },
    { rule_id: 2, device_id: 'a', state: 'firing', event_id: 4 },
  ]);
  const found = await pool.query("SELECT id::int FROM logs WHERE search @@ $1::tsquery", ["'disk' <-> 'full'"]);
  expect(found.rows).toEqual([{ id: 1 }]);
  // The vector is the writer's now, no longer computed by PostgreSQL.
  await pool.query("INSERT INTO logs(device_id, ts, level, source, message, search) VALUES ('a', 2, 'info', 'app', 'x', $1::tsvector)", ["'y':1"]);
  expect((await pool.query("SELECT search::text FROM logs WHERE ts = 2")).rows).toEqual([{ search: "'y':1" }]);
  await pool.query("INSERT INTO logs(device_id, ts, level, source, message) VALUES ('a', 3, 'info', 'app', 'z')");
  expect((await pool.query("SELECT search::text FROM logs WHERE ts = 3")).rows).toEqual([{ search: '' }]);
});
