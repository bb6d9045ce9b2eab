import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The server the PostgreSQL runs use; a database is created on it per test file and dropped after. */
const SERVER_URL = process.env.TETHER_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const HOW_TO_START = `PostgreSQL is not reachable at ${SERVER_URL}. These tests need it (they are not skipped). Start it with:\n` +
  '  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n' +
  'or point TETHER_TEST_DATABASE_URL at a server where user postgres may create databases.';

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: SERVER_URL, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`${HOW_TO_START}\n(${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A fresh database on the test server, and a function that drops it (with any connections left). */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `tether_test_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined) };
}

