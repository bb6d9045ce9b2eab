import { chmodSync, closeSync, existsSync, openSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Migration } from '../migrations.js';

export type Db = Database.Database;

/** Owner-only: the databases hold password hashes, TOTP secrets and session hashes. */
export const DATABASE_FILE_MODE = 0o600;

/**
 * Creates `file` owner-only before SQLite opens it, and narrows an existing one. SQLite gives a
 * database's -wal, -shm and -journal the mode of the database file itself, so this covers them
 * too, whatever the process umask (which can only take bits away from 0600).
 */
export function privateDatabaseFile(file: string): void {
  if (!existsSync(file)) closeSync(openSync(file, 'a', DATABASE_FILE_MODE));
  // Also those left 0644 by an older version. Only when needed: chmod needs the owner.
  for (const path of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) {
    const mode = statSync(path, { throwIfNoEntry: false })?.mode;
    if (mode !== undefined && (mode & 0o777) !== DATABASE_FILE_MODE) chmodSync(path, DATABASE_FILE_MODE);
  }
}

/** Opens (creating if needed, mode 0600) a SQLite file in WAL mode and brings it to the newest migration. */
export function openDatabase(file: string, migrations: readonly Migration[]): Db {
  if (file !== ':memory:' && file !== '') privateDatabaseFile(file);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db, migrations);
  return db;
}

/** Applies every migration newer than `PRAGMA user_version`, each in its own transaction. */
export function migrate(db: Db, migrations: readonly Migration[]): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  let applied = 0;
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
    applied++;
  }
  return applied;
}
