import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { migrate } from './db.js';
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
});
