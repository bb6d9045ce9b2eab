import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../backend/store/open-store.js';
import { api, cleanup, createToken, enrolAndRun, login, ROOT, startBackend, tempDir, TEST_STORE, waitFor, type Backend, type Proc } from '../harness.js';
import { createTestDatabase } from '../store/test-database.js';

/** Runs `tether-backend` to its end, stdout and stderr apart (stderr is not a terminal: one progress line per table). */
function backendCli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env.TETHER_DATABASE_URL;
  const res = spawnSync(process.execPath, [join(ROOT, 'bin', 'tether-backend.js'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000, env });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

type Cell = string | null;

/** The ordinary tables of a SQLite database with their columns (SQLite's own and FTS tables left out). */
function sqliteTables(db: Database.Database): Map<string, string[]> {
  const names = db.prepare("SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite_%'").pluck().all() as string[];
  return new Map(names.map((name) => [name, db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all(name) as string[]]));
}

/** Every value as text (blobs as hex), so both engines' rows compare exactly; integers keep every digit. */
const cell = (value: unknown): Cell => (value === null ? null : Buffer.isBuffer(value) ? `x${value.toString('hex')}` : String(value));
const sortRows = (rows: Cell[][]) => rows.map((r) => JSON.stringify(r)).sort();

function sqliteRows(db: Database.Database, table: string, columns: string[]): Cell[][] {
  const rows = db.prepare(`SELECT ${columns.map((c) => `"${c}"`).join(', ')} FROM "${table}"`).raw(true).safeIntegers(true).all() as unknown[][];
  return rows.map((r) => r.map(cell));
}

async function postgresRows(client: pg.Client, table: string, columns: string[]): Promise<Cell[][]> {
  // pg's default parsers: int8 as a string, bytea as a Buffer.
  const { rows } = await client.query({ text: `SELECT ${columns.map((c) => `"${c}"`).join(', ')} FROM "${table}"`, rowMode: 'array' });
  return (rows as unknown[][]).map((r) => r.map(cell));
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function postgresCounts(url: string, tables: Iterable<string>): Promise<Record<string, number>> {
  return withClient(url, async (client) => {
    const counts: Record<string, number> = {};
    for (const table of tables) counts[table] = Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM "${table}"`)).rows[0]?.n);
    return counts;
  });
}

// Every step spawns the CLI (tsx compiles on start): slow on a loaded machine.
// Always SQLite into PostgreSQL, whatever TETHER_TEST_STORE says: `npm test` runs it once, in the SQLite pass.
const secondPass = TEST_STORE === 'postgres';
if (secondPass) console.log('migrate-store: skipped with TETHER_TEST_STORE=postgres: it copies a SQLite home into PostgreSQL and already ran in the SQLite pass');

describe.skipIf(secondPass)('migrate-store: a SQLite home into PostgreSQL', { timeout: 240_000 }, () => {
  const databases: Array<{ url: string; drop(): Promise<void> }> = [];
  const dirs: string[] = [];
  let backend: Backend | undefined;
  let agent: { proc: Proc; stateDir: string; deviceId: string } | undefined;
  let home = '';
  let tables = new Map<string, string[]>();
  const chunk = randomBytes(4096);
  const bigCounter = '9007199254740993'; // 2^53 + 1: not a JS number

  const newDatabase = async () => {
    const db = await createTestDatabase();
    databases.push(db);
    return db.url;
  };

  beforeAll(async () => {
    // A real home: a backend with users, tokens, a config layer, an alert rule, an enrolled agent
    // sending telemetry, and a command run on it.
    // On SQLite whatever TETHER_TEST_STORE says: SQLite is what this copies from.
    backend = await startBackend({ env: { TETHER_DATABASE_URL: '' } });
    home = backend.home;
    const admin = await login(backend);
    expect((await api(backend, 'POST', '/api/v1/users', { token: admin, body: { username: 'vera', password: 'vera-password-1', role: 'viewer' } })).status).toBe(200);
    await createToken(backend, admin, { uses: 5 });
    agent = await enrolAndRun(backend, admin, 'alpha');
    expect((await api(backend, 'PUT', '/api/v1/config/layers/fleet', { token: admin, body: { values: { app: { color: 'grey' } }, expectedVersion: 0, message: 'defaults' } })).status).toBe(200);
    expect((await api(backend, 'POST', '/api/v1/alerts/rules', { token: admin, body: { name: 'offline', condition: { kind: 'offline' }, forMs: 60_000 } })).status).toBe(200);
    const run = await api(backend, 'POST', `/api/v1/devices/${agent.deviceId}/commands`, { token: admin, body: { command: { shell: 'printf "out\\n"; printf "err\\n" >&2' } } });
    expect(run.status, JSON.stringify(run.body)).toBe(200);
    const runId = (run.body as { id: string }).id;
    await waitFor(async () => ((await api(backend!, 'GET', `/api/v1/runs/${runId}`, { token: admin })).body as { state: string }).state === 'succeeded', 20_000, 'the command run');
    const metrics = new Database(join(home, 'metrics.db'), { readonly: true });
    try {
      await waitFor(() => (metrics.prepare('SELECT count(*) FROM telemetry_batches').pluck().get() as number) >= 3, 20_000, 'telemetry batches');
    } finally {
      metrics.close();
    }

    // Running backend: refused, whatever the target.
    const refused = backendCli(['migrate-store', '--home', home, '--to', 'postgres://127.0.0.1/none']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error BACKEND_RUNNING: A backend \(pid \d+\) is running on .*tether-backend backup/);

    await agent.proc.stop();
    await backend.stop();
    backend = undefined;

    // What a short run does not write (compaction runs every 10 minutes, TOTP, shells, alerts
    // firing), written as the services would, so that every table has rows to compare.
    const main = new Database(join(home, 'tether.db'));
    const metricsDb = new Database(join(home, 'metrics.db'));
    try {
      const vera = main.prepare("SELECT id FROM users WHERE username = 'vera'").pluck().get() as number;
      main.prepare(`UPDATE users SET totp_secret = 'JBSWY3DPEHPK3PXP', totp_last_counter = ${bigCounter} WHERE id = ?`).run(vera);
      const insertCode = main.prepare('INSERT INTO recovery_codes (user_id, code_hash, used_at) VALUES (?, ?, ?)');
      for (let i = 0; i < 10; i++) insertCode.run(vera, randomBytes(32), i === 0 ? Date.now() : null);
      main.prepare("INSERT INTO shell_sessions (id, device_id, username, started_at, ended_at, exit_code, end_code, output_bytes, recording) VALUES ('sh_1', ?, 'admin', 1, 2, 0, 'exited', 42, 'sh_1.cast')").run(agent.deviceId);
      main.prepare("INSERT OR IGNORE INTO jobs (id, state, command, concurrency, batch_size, max_failure_ratio, queue_offline, offline_expiry_ms, created_by, created_at) VALUES ('job_1', 'completed', '{\"shell\":\"true\"}', 1, 1, 0.25, 0, 60000, 'admin', 1)").run();
      main.prepare("INSERT OR IGNORE INTO config_schemas (namespace, schema, version) VALUES ('app', '{}', 1)").run();
      main.prepare("INSERT OR IGNORE INTO config_device_state (device_id, desired_version, desired_hash) VALUES (?, 1, 'h')").run(agent.deviceId);
      // Deleted revisions: SQLite's AUTOINCREMENT never hands their numbers out again, nor may PostgreSQL.
      main.prepare("UPDATE sqlite_sequence SET seq = seq + 100 WHERE name = 'config_revisions'").run();

      const series = metricsDb.prepare('SELECT id FROM series ORDER BY id').pluck().all() as number[];
      expect(series.length).toBeGreaterThan(0);
      const head = metricsDb.prepare('INSERT INTO raw_head (series_id, ts, value) VALUES (?, ?, ?)');
      // More than one batch (1000 rows) for one table.
      metricsDb.transaction(() => {
        for (let i = 0; i < 2500; i++) head.run(series[0], 1_000_000 + i, i / 7);
      })();
      for (const [tier, bucket] of [['1m', 60_000], ['1h', 3_600_000]] as const) {
        metricsDb.prepare(`INSERT OR IGNORE INTO rollup_${tier}_head (series_id, bucket, count, sum, min, max) VALUES (?, ?, 2, 3.5, 1.25, 2.25)`).run(series[0], bucket);
        metricsDb.prepare(`INSERT INTO rollup_${tier}_chunks (start, series_id, count, data) VALUES (?, ?, 120, ?)`).run(bucket, series[0], randomBytes(1500));
        metricsDb.prepare('INSERT OR IGNORE INTO rollup_dirty (tier, device_id, bucket) VALUES (?, ?, ?)').run(tier, agent.deviceId, bucket);
      }
      metricsDb.prepare('INSERT INTO raw_chunks (start, series_id, count, data) VALUES (0, ?, 300, ?)').run(series[0], chunk);
      metricsDb.prepare("INSERT INTO logs (device_id, ts, level, source, message) VALUES (?, 5, 'warn', 'kernel', 'disk sda1 90% full — ünïcode')").run(agent.deviceId);
      const rule = metricsDb.prepare('SELECT id FROM alert_rules').pluck().get() as number;
      metricsDb.prepare("INSERT INTO alert_events (rule_id, rule_name, device_id, state, ts, value) VALUES (?, 'offline', ?, 'firing', 7, NULL)").run(rule, agent.deviceId);
      metricsDb.prepare("INSERT INTO alert_state (rule_id, device_id, state, event_id) VALUES (?, ?, 'firing', (SELECT max(id) FROM alert_events))").run(rule, agent.deviceId);
      tables = new Map([...sqliteTables(main), ...sqliteTables(metricsDb)]);
      for (const [table] of tables) {
        const db = sqliteTables(main).has(table) ? main : metricsDb;
        expect(db.prepare(`SELECT count(*) FROM "${table}"`).pluck().get(), `rows in ${table}`).toBeGreaterThan(0);
      }
    } finally {
      main.close();
      metricsDb.close();
    }
  }, 180_000);

  afterAll(async () => {
    await agent?.proc.stop();
    await backend?.stop();
    for (const db of databases) await db.drop();
    cleanup(home, agent?.stateDir ?? '', ...dirs);
  });

  it('the PostgreSQL schema has every table and column SQLite has', async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'tether-schema-'));
    dirs.push(fresh);
    const sqlite = await openStore({ home: fresh });
    await sqlite.close();
    const wanted = new Map<string, string[]>();
    for (const file of ['tether.db', 'metrics.db']) {
      const db = new Database(join(fresh, file), { readonly: true });
      for (const [table, columns] of sqliteTables(db)) wanted.set(table, columns);
      db.close();
    }
    const url = await newDatabase();
    const postgres = await openStore({ home: fresh, databaseUrl: url });
    await postgres.close();
    const have = await withClient(url, async (client) => {
      const { rows } = await client.query<{ table_name: string; column_name: string }>("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'");
      return new Set(rows.map((r) => `${r.table_name}.${r.column_name}`));
    });
    const missing = [...wanted].flatMap(([table, columns]) => columns.map((c) => `${table}.${c}`)).filter((name) => !have.has(name));
    expect(missing).toEqual([]);
    expect(wanted.size).toBeGreaterThan(20);
  });

  it('copies every table row for row (blobs byte for byte), reports progress per table, and moves identities past the copied ids', async () => {
    const url = await newDatabase();
    const res = backendCli(['migrate-store', '--home', home, '--to', url]);
    expect(res.code, res.stderr).toBe(0);
    for (const [table] of tables) expect(res.stderr).toMatch(new RegExp(`^${table}: (\\d+)/\\1 rows$`, 'm'));
    expect(res.stdout).toMatch(/^ {2}raw_head +\d{4}$/m);

    const main = new Database(join(home, 'tether.db'), { readonly: true });
    const metrics = new Database(join(home, 'metrics.db'), { readonly: true });
    try {
      await withClient(url, async (client) => {
        for (const [table, columns] of tables) {
          const db = sqliteTables(main).has(table) ? main : metrics;
          const expected = sqliteRows(db, table, columns);
          const copied = await postgresRows(client, table, columns);
          expect(copied.length, table).toBe(expected.length);
          expect(sortRows(copied), table).toEqual(sortRows(expected));
        }
        const blob = (await client.query<{ data: Buffer }>('SELECT data FROM raw_chunks WHERE start = 0')).rows[0]?.data;
        expect(blob && Buffer.compare(blob, chunk)).toBe(0);
        expect((await client.query<{ c: string }>("SELECT totp_last_counter::text AS c FROM users WHERE username = 'vera'")).rows[0]?.c).toBe(bigCounter);
        // The log is searchable on PostgreSQL: its search column is built from the copied rows.
        expect((await client.query("SELECT id FROM logs WHERE search @@ to_tsquery('simple', 'sda1')")).rowCount).toBe(1);

        // New rows get ids after the copied ones (and after AUTOINCREMENT numbers SQLite already spent).
        const maxAudit = main.prepare('SELECT max(id) FROM audit_log').pluck().get() as number;
        const audit = await client.query<{ id: string }>("INSERT INTO audit_log (ts, actor, action) VALUES (1, 'test', 'probe') RETURNING id");
        expect(Number(audit.rows[0]?.id)).toBe(maxAudit + 1);
        const spent = main.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'config_revisions'").pluck().get() as number;
        const revision = await client.query<{ version: string }>("INSERT INTO config_revisions (ts, author, action, target) VALUES (1, 'test', 'layer.put', 'fleet') RETURNING version");
        expect(Number(revision.rows[0]?.version)).toBe(spent + 1);
        const maxSeries = metrics.prepare('SELECT max(id) FROM series').pluck().get() as number;
        const series = await client.query<{ id: number }>("INSERT INTO series (device_id, name) VALUES ('dev_probe', 'probe') RETURNING id");
        expect(series.rows[0]?.id).toBe(maxSeries + 1);
      });
    } finally {
      main.close();
      metrics.close();
    }

    // The device keeps its certificate and telemetry token: the ports on PostgreSQL find it by either.
    const store = await openStore({ home, databaseUrl: url });
    try {
      const device = await store.stores.devices.find(agent?.deviceId ?? '');
      const hash = new Database(join(home, 'tether.db'), { readonly: true });
      const row = hash.prepare('SELECT cert_fingerprint, telemetry_token_hash FROM devices WHERE id = ?').get(agent?.deviceId) as { cert_fingerprint: string; telemetry_token_hash: Buffer };
      hash.close();
      expect(device).toMatchObject({ id: agent?.deviceId, name: 'alpha', status: 'active', certFingerprint: row.cert_fingerprint });
      expect((await store.stores.devices.findByTelemetryHash(row.telemetry_token_hash))?.id).toBe(agent?.deviceId);
    } finally {
      await store.close();
    }

    // The CLI's --database-url reaches the store: a token made on PostgreSQL, audited there.
    const created = backendCli(['token', 'create', '--home', home, '--database-url', url, '--json']);
    expect(created.code, created.stderr).toBe(0);
    const tokenId = (JSON.parse(created.stdout) as { id: string }).id;
    await withClient(url, async (client) => {
      expect((await client.query('SELECT 1 FROM registration_tokens WHERE id = $1', [tokenId])).rowCount).toBe(1);
      expect((await client.query("SELECT 1 FROM audit_log WHERE target = $1 AND actor LIKE 'cli:%'", [tokenId])).rowCount).toBe(1);
    });
  });

  it('refuses a target that holds rows unless --force, which replaces them', async () => {
    const url = await newDatabase();
    expect(backendCli(['migrate-store', '--home', home, '--to', url]).code).toBe(0);
    const before = await postgresCounts(url, tables.keys());

    const again = backendCli(['migrate-store', '--home', home, '--to', url]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^error TARGET_NOT_EMPTY: The target database already holds rows \(in .*users.*\).*--force/m);
    expect(await postgresCounts(url, tables.keys())).toEqual(before);

    const forced = backendCli(['migrate-store', '--home', home, '--to', url, '--force', '--json']);
    expect(forced.code, forced.stderr).toBe(0);
    const summary = JSON.parse(forced.stdout) as { tables: Array<{ table: string; rows: number }>; truncated: string[] };
    expect(summary.truncated).toContain('devices');
    expect(Object.fromEntries(summary.tables.map((t) => [t.table, t.rows]))).toEqual(before);
    expect(await postgresCounts(url, tables.keys())).toEqual(before);
  });

  it('a failure midway leaves the target empty', async () => {
    const copy = join(tempDir('migrate-bad'), 'home');
    dirs.push(join(copy, '..'));
    cpSync(home, copy, { recursive: true });
    // SQLite keeps text in an INTEGER column; PostgreSQL refuses it, after tether.db's tables are in.
    const metrics = new Database(join(copy, 'metrics.db'));
    metrics.prepare("INSERT INTO logs (device_id, ts, level, source, message) VALUES ('dev_x', 'yesterday', 'info', 'x', 'y')").run();
    metrics.close();
    const url = await newDatabase();
    const res = backendCli(['migrate-store', '--home', copy, '--to', url]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^users: \d+\/\d+ rows$/m);
    expect(res.stderr).toMatch(/^error MIGRATION_FAILED: Copying logs failed after \d+ of \d+ rows: .*bigint.*rolled back/m);
    const counts = await postgresCounts(url, tables.keys());
    expect(Object.entries(counts).filter(([, n]) => n > 0)).toEqual([]);
  });

  it('backs up the PostgreSQL database with pg_dump and restores it into another one', async () => {
    const url = await newDatabase();
    expect(backendCli(['migrate-store', '--home', home, '--to', url]).code).toBe(0);
    const out = join(tempDir('pg-backup'), 'b.tar.gz');
    dirs.push(join(out, '..'));
    const backup = backendCli(['backup', '--home', home, '--database-url', url, '--out', out]);
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.stdout).toMatch(/postgres\.dump \(pg_dump custom format, \d+ bytes\)/);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const listing = spawnSync('tar', ['-tvzf', out], { encoding: 'utf8' }).stdout;
    expect(listing).toMatch(/^-rw------- .* \.\/postgres\.dump$/m);

    const target = await newDatabase();
    const restoredHome = join(tempDir('pg-restore'), 'home');
    dirs.push(join(restoredHome, '..'));
    const restore = backendCli(['restore', '--home', restoredHome, '--from', out]);
    // Without --database-url the backup cannot go anywhere: it says what to run.
    expect(restore.code).toBe(1);
    expect(restore.stderr).toMatch(/^error BACKUP_INVALID: This backup holds a PostgreSQL dump.*--database-url/m);
    const restored = backendCli(['restore', '--home', restoredHome, '--database-url', target, '--from', out]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(readFileSync(join(restoredHome, 'pki', 'ca.crt'), 'utf8')).toBe(readFileSync(join(home, 'pki', 'ca.crt'), 'utf8'));

    const expected = await postgresCounts(url, tables.keys());
    expect(await postgresCounts(target, tables.keys())).toEqual({ ...expected, sessions: 0 });
    expect(expected.sessions).toBeGreaterThan(0);
    await withClient(target, async (client) => {
      expect((await client.query<{ data: Buffer }>('SELECT data FROM raw_chunks WHERE start = 0')).rows[0]?.data.equals(chunk)).toBe(true);
    });

    // Restoring over a database that has tables is refused, and leaves it alone.
    const twice = backendCli(['restore', '--home', restoredHome, '--database-url', target, '--from', out]);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/^error TARGET_NOT_EMPTY: .*already has tables.*createdb/m);
  });
});
