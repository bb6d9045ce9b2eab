import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { MetricStore } from './sqlite/metric-store.js';
import { migrate } from './sqlite/db.js';
import { MAIN_MIGRATIONS, METRICS_MIGRATIONS, type Migration } from './migrations.js';

function tables(db: Database.Database): string[] {
  return (db.prepare("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
}

describe('migrations', () => {
  it('are numbered 1..n without gaps', () => {
    for (const list of [MAIN_MIGRATIONS, METRICS_MIGRATIONS]) {
      expect(list.map((m) => m.version)).toEqual(list.map((_, i) => i + 1));
    }
  });

  it('main v1 creates the foundation tables and enforces roles and device status', () => {
    const db = new Database(':memory:');
    expect(migrate(db, MAIN_MIGRATIONS.slice(0, 1))).toBe(1);
    expect(tables(db)).toEqual(expect.arrayContaining(['users', 'sessions', 'registration_tokens', 'devices', 'audit_log']));
    expect(() => db.prepare("INSERT INTO users(username,password_hash,role,created_at) VALUES('a','x','root',0)").run()).toThrow(/CHECK/);
    expect(() =>
      db.prepare("INSERT INTO devices(id,name,status,cert_fingerprint,telemetry_token_hash,created_at) VALUES('d','n','lost','f',x'00',0)").run(),
    ).toThrow(/CHECK/);
  });

  it('metrics v1 makes (device, seq) unique so a resent batch is stored once', () => {
    const db = new Database(':memory:');
    migrate(db, METRICS_MIGRATIONS.slice(0, 1));
    const insert = db.prepare('INSERT OR IGNORE INTO telemetry_batches(device_id, seq, received_at) VALUES (?,?,?)');
    expect(insert.run('d', 1, 0).changes).toBe(1);
    expect(insert.run('d', 1, 0).changes).toBe(0);
  });

  it('main v2 numbers config revisions monotonically and keeps one delivery state per device', () => {
    const db = new Database(':memory:');
    migrate(db, MAIN_MIGRATIONS.slice(0, 2));
    expect(tables(db)).toEqual(expect.arrayContaining(['config_layers', 'config_revisions', 'config_schemas', 'config_device_state']));
    const revise = db.prepare("INSERT INTO config_revisions(ts, author, action, target) VALUES (0, 'a', 'layer.put', 'fleet')");
    const first = Number(revise.run().lastInsertRowid);
    db.prepare('DELETE FROM config_revisions WHERE version = ?').run(first);
    // AUTOINCREMENT: a deleted newest revision's number is never handed out again.
    expect(Number(revise.run().lastInsertRowid)).toBe(first + 1);
    expect(() => db.prepare("INSERT INTO config_layers(id, kind, version, updated_at, updated_by) VALUES ('x', 'team', 1, 0, 'a')").run()).toThrow(/CHECK/);
    const state = db.prepare("INSERT INTO config_device_state(device_id, desired_version, desired_hash) VALUES ('d', 1, 'h')");
    state.run();
    expect(() => state.run()).toThrow(/UNIQUE|PRIMARY/);
  });

  it('metrics v2 adds rollup tiers, dirty buckets and logs whose FTS5 index follows inserts and deletes', () => {
    const db = new Database(':memory:');
    migrate(db, METRICS_MIGRATIONS.slice(0, 2));
    expect(tables(db)).toEqual(expect.arrayContaining(['rollup_1m', 'rollup_1h', 'rollup_dirty', 'logs', 'logs_fts', 'alert_rules', 'alert_events']));
    const insert = db.prepare("INSERT INTO logs(device_id, ts, level, source, message) VALUES ('d', 1, 'info', 'app', ?)");
    const id = insert.run('disk quota exceeded on sda1').lastInsertRowid;
    insert.run('all good');
    const match = db.prepare("SELECT rowid FROM logs_fts WHERE logs_fts MATCH 'quota'");
    expect(match.all()).toEqual([{ rowid: Number(id) }]);
    db.prepare('DELETE FROM logs WHERE id = ?').run(id);
    expect(match.all()).toEqual([]);
    expect(() => db.prepare("INSERT INTO rollup_dirty(tier, device_id, bucket) VALUES ('5m', 'd', 0)").run()).toThrow(/CHECK/);
  });

  it('are idempotent and resume from user_version', () => {
    const db = new Database(':memory:');
    expect(migrate(db, MAIN_MIGRATIONS)).toBe(MAIN_MIGRATIONS.length);
    expect(migrate(db, MAIN_MIGRATIONS)).toBe(0);
    expect(db.pragma('user_version', { simple: true })).toBe(MAIN_MIGRATIONS.length);
  });

  it('a failing migration leaves no half-applied schema', () => {
    const db = new Database(':memory:');
    const broken: Migration[] = [{ version: 1, name: 'broken', sql: 'CREATE TABLE ok_table(x); CREATE TABLE ok_table(x);' }];
    expect(() => migrate(db, broken)).toThrow();
    expect(tables(db)).not.toContain('ok_table');
    expect(db.pragma('user_version', { simple: true })).toBe(0);
  });
  it('main v3 keeps one run per device and job, and checks run and job states', () => {
    const db = new Database(':memory:');
    migrate(db, MAIN_MIGRATIONS.slice(0, 3));
    expect(tables(db)).toEqual(expect.arrayContaining(['shell_sessions', 'jobs', 'runs']));
    db.prepare("INSERT INTO jobs(id, state, command, concurrency, batch_size, queue_offline, offline_expiry_ms, created_by, created_at) VALUES ('j', 'running', '{}', 1, 1, 0, 1, 'a', 0)").run();
    const run = db.prepare("INSERT INTO runs(id, job_id, device_id, state, command, created_by, created_at) VALUES (?, 'j', 'd', ?, '{}', 'a', 0)");
    run.run('r1', 'queued');
    expect(() => run.run('r2', 'queued')).toThrow(/UNIQUE/);
    expect(() => db.prepare("INSERT INTO runs(id, device_id, state, command, created_by, created_at) VALUES ('r3', 'd', 'lost', '{}', 'a', 0)").run()).toThrow(/CHECK/);
    expect(() => db.prepare("UPDATE jobs SET state = 'paused'").run()).toThrow(/CHECK/);
  });

  it('main v4 adds user scopes and TOTP columns, one-time recovery codes and session idle time', () => {
    const db = new Database(':memory:');
    migrate(db, MAIN_MIGRATIONS.slice(0, 3));
    db.prepare("INSERT INTO users(username,password_hash,role,created_at) VALUES('a','x','admin',0)").run();
    db.prepare("INSERT INTO sessions(token_hash,user_id,created_at,expires_at) VALUES(x'01',1,5,10)").run();
    migrate(db, MAIN_MIGRATIONS.slice(0, 4));
    expect(tables(db)).toContain('recovery_codes');
    expect(db.prepare('SELECT scope, totp_secret, totp_pending_secret, totp_last_counter FROM users').get()).toEqual({ scope: null, totp_secret: null, totp_pending_secret: null, totp_last_counter: null });
    // Sessions open before the upgrade count as seen when they were created.
    expect(db.prepare('SELECT last_seen_at FROM sessions').get()).toEqual({ last_seen_at: 5 });
    const code = db.prepare("INSERT INTO recovery_codes(user_id, code_hash) VALUES (1, x'aa')");
    code.run();
    expect(() => code.run()).toThrow(/UNIQUE|PRIMARY/);
    db.pragma('foreign_keys = ON');
    db.prepare('DELETE FROM users').run();
    expect(db.prepare('SELECT count(*) AS n FROM recovery_codes').get()).toEqual({ n: 0 });
  });

  it('main v5 reads a keyset page of the device list off an index, without sorting the table', () => {
    const db = new Database(':memory:');
    migrate(db, MAIN_MIGRATIONS.slice(0, 5));
    const plan = (db.prepare("EXPLAIN QUERY PLAN SELECT * FROM devices WHERE (name, id) > ('a', 'b') ORDER BY name, id LIMIT 10").all() as Array<{ detail: string }>).map((r) => r.detail);
    expect(plan.join('; ')).toMatch(/USING INDEX devices_name/);
    expect(plan.join('; ')).not.toMatch(/TEMP B-TREE/);
  });

  it('main v6 gives runs their position within the job; runs from before keep theirs empty', () => {
    const db = new Database(':memory:');
    migrate(db, MAIN_MIGRATIONS.slice(0, 5));
    db.prepare("INSERT INTO runs(id, device_id, state, command, created_by, created_at) VALUES ('old', 'd', 'succeeded', '{}', 'a', 0)").run();
    migrate(db, MAIN_MIGRATIONS.slice(0, 6));
    expect(db.prepare("SELECT seq FROM runs WHERE id = 'old'").get()).toEqual({ seq: null });
    db.prepare("INSERT INTO runs(id, device_id, state, command, created_by, created_at, seq) VALUES ('new', 'd', 'queued', '{}', 'a', 0, 7)").run();
    expect(db.prepare("SELECT seq FROM runs WHERE id = 'new'").get()).toEqual({ seq: 7 });
  });

  it('metrics v3 moves raw samples and rollups of an existing home into series-keyed heads, readable through the metric store', () => {
    const db = new Database(':memory:');
    migrate(db, METRICS_MIGRATIONS.slice(0, 2));
    const sample = db.prepare('INSERT INTO samples(device_id, name, ts, value) VALUES (?, ?, ?, ?)');
    sample.run('a', 'cpu', 2_000, 1.5);
    sample.run('a', 'cpu', 1_000, 0.5);
    sample.run('b', 'cpu', 1_000, 9);
    db.prepare("INSERT INTO rollup_1m(device_id, name, bucket, count, sum, min, max) VALUES ('a', 'cpu', 0, 2, 2, 0.5, 1.5), ('c', 'mem', 0, 1, 3, 3, 3)").run();
    db.prepare("INSERT INTO rollup_1h(device_id, name, bucket, count, sum, min, max) VALUES ('a', 'cpu', 0, 2, 2, 0.5, 1.5)").run();
    migrate(db, METRICS_MIGRATIONS.slice(0, 3));
    expect(tables(db)).not.toContain('samples');
    const store = new MetricStore(db);
    const a = store.existingSeriesId('a', 'cpu') ?? -1;
    expect(store.readRaw(a, 0, 10_000)).toEqual({ ts: [1_000, 2_000], values: [0.5, 1.5] });
    expect(store.readRaw(store.existingSeriesId('b', 'cpu') ?? -1, 0, 10_000).values).toEqual([9]);
    expect(store.readRollup('1m', a, 0, 60_000)).toEqual([{ bucket: 0, count: 2, sum: 2, min: 0.5, max: 1.5 }]);
    expect(store.readRollup('1m', store.existingSeriesId('c', 'mem') ?? -1, 0, 60_000)).toEqual([{ bucket: 0, count: 1, sum: 3, min: 3, max: 3 }]);
    expect(store.readRollup('1h', a, 0, 3_600_000)).toHaveLength(1);
    expect(() => db.prepare("INSERT INTO series(device_id, name) VALUES ('a', 'cpu')").run()).toThrow(/UNIQUE/);
  });

  it('metrics v4 keeps one alert state per (rule, device), taken from the last event of an existing home', () => {
    const db = new Database(':memory:');
    migrate(db, METRICS_MIGRATIONS.slice(0, 3));
    const event = db.prepare("INSERT INTO alert_events(rule_id, rule_name, device_id, state, ts) VALUES (?, 'r', ?, ?, 0)");
    event.run(1, 'a', 'firing');
    event.run(1, 'b', 'firing');
    event.run(1, 'a', 'resolved');
    event.run(2, 'a', 'firing');
    migrate(db, METRICS_MIGRATIONS.slice(0, 4));
    expect(db.prepare('SELECT rule_id, device_id, state, event_id FROM alert_state ORDER BY rule_id, device_id').all()).toEqual([
      { rule_id: 1, device_id: 'a', state: 'resolved', event_id: 3 },
      { rule_id: 1, device_id: 'b', state: 'firing', event_id: 2 },
      { rule_id: 2, device_id: 'a', state: 'firing', event_id: 4 },
    ]);
    expect(() => db.prepare("INSERT INTO alert_state(rule_id, device_id, state) VALUES (1, 'a', 'firing')").run()).toThrow(/UNIQUE|PRIMARY/);
    expect(() => db.prepare("INSERT INTO alert_state(rule_id, device_id, state) VALUES (3, 'a', 'pending')").run()).toThrow(/CHECK/);
  });
});
