import Database from 'better-sqlite3';
import { TetherError } from '../../../protocol/index.js';
import { privateDatabaseFile } from './db.js';

/**
 * Copies one SQLite database file through SQLite's online backup API (better-sqlite3
 * `db.backup()`), which reads a consistent snapshot while a backend keeps writing. The copy is
 * one self-contained file (journal mode DELETE), owner-only, without login sessions, and passes
 * `PRAGMA integrity_check` (else BACKUP_INVALID).
 */
export async function backupSqliteDatabase(source: string, target: string): Promise<{ userVersion: number; pages: number }> {
  privateDatabaseFile(target);
  const db = new Database(source, { fileMustExist: true });
  let pages = 0;
  try {
    db.pragma('busy_timeout = 5000');
    await db.backup(target, {
      // After the first step copy the rest in one step: a step holds one read snapshot, so a
      // backend writing meanwhile cannot make SQLite restart the copy over and over.
      progress: ({ totalPages }) => {
        pages = totalPages;
        return Math.max(totalPages, 1);
      },
    });
  } finally {
    db.close();
  }
  const copy = new Database(target);
  try {
    // One self-contained file: no -wal beside it to forget when the backup is moved.
    copy.pragma('journal_mode = DELETE');
    endSessions(copy);
    checkIntegrity(copy, target);
    return { userVersion: copy.pragma('user_version', { simple: true }) as number, pages };
  } finally {
    copy.close();
  }
}

/** BACKUP_INVALID unless `file` is a readable SQLite database passing `PRAGMA integrity_check`; `label` names it in the message. */
export function checkSqliteIntegrity(file: string, label: string): void {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (cause) {
    throw new TetherError('BACKUP_INVALID', `${label} is not a readable SQLite database`, { cause });
  }
  try {
    checkIntegrity(db, label);
  } finally {
    db.close();
  }
}

/** Deletes every login session of the database in `file` (a backup made before sessions were left out still carries them). */
export function endSqliteSessions(file: string): void {
  const db = new Database(file, { fileMustExist: true });
  try {
    endSessions(db);
  } finally {
    db.close();
  }
}

/** Deletes every login session; `secure_delete` overwrites the freed rows rather than leaving them in free pages. */
function endSessions(db: Database.Database): void {
  const hasSessions = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sessions'").get() !== undefined;
  if (!hasSessions) return;
  db.pragma('secure_delete = ON');
  db.prepare('DELETE FROM sessions').run();
}

function checkIntegrity(db: Database.Database, label: string): void {
  let result: unknown;
  try {
    result = db.pragma('integrity_check', { simple: true });
  } catch (cause) {
    throw new TetherError('BACKUP_INVALID', `${label} is not a readable SQLite database`, { cause });
  }
  if (result !== 'ok') throw new TetherError('BACKUP_INVALID', `${label} fails PRAGMA integrity_check: ${String(result)}`);
}
