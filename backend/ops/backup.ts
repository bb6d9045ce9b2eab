import { execFileSync } from 'node:child_process';
import { chmodSync, closeSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { z } from 'zod';
import { TetherError } from '../../protocol/index.js';
import { DATABASE_FILE_MODE, privateDatabaseFile } from '../store/sqlite/db.js';
import { runningBackendPid } from './pid-file.js';

/** The databases of a backend home, in the order they are copied. */
export const DATABASES = ['tether.db', 'metrics.db'] as const;
/** Files and folders besides the databases that a restored backend needs: its CA and identity, and shell recordings. */
const EXTRAS = ['pki', 'backend.json', 'recordings'] as const;
const MANIFEST = 'manifest.json';

const Manifest = z.object({
  format: z.literal(1),
  createdAt: z.number().int(),
  databases: z.array(z.object({ file: z.enum(DATABASES), userVersion: z.number().int(), pages: z.number().int() })),
  extras: z.array(z.string()),
});
type Manifest = z.infer<typeof Manifest>;

export interface BackupSummary {
  out: string;
  manifest: Manifest;
}

const isArchive = (path: string) => /\.(tar\.gz|tgz)$/.test(path);

/**
 * Takes an online backup of a backend home into `out` (a new directory, or a `.tar.gz` file):
 * each database through SQLite's online backup API (better-sqlite3 `db.backup()`), which reads
 * a consistent snapshot while the backend keeps writing, then the PKI and recordings.
 * Every copy passes `PRAGMA integrity_check` before the backup counts as taken.
 *
 * The backup holds the CA private key and the users' password hashes: every file in it, and the
 * archive, is owner-only (0600, folders 0700) whatever the umask. Login sessions are left out, so
 * a restore never revives a session that was ended after the backup.
 */
export async function backupHome(homeDir: string, outPath: string, now: () => number = Date.now): Promise<BackupSummary> {
  const home = resolve(homeDir);
  const out = resolve(outPath);
  if (!existsSync(join(home, 'tether.db'))) throw new TetherError('NOT_FOUND', `No backend home at ${home} (tether.db is missing)`);
  if (existsSync(out) && (!isDirectory(out) || readdirSync(out).length > 0)) throw new TetherError('CONFLICT', `${out} already exists; choose a new path`);
  const archive = isArchive(out);
  const dir = archive ? mkdtempSync(join(dirname(out), '.tether-backup-')) : out;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  try {
    const databases: Manifest['databases'] = [];
    for (const file of DATABASES) {
      if (!existsSync(join(home, file))) continue;
      databases.push({ file, ...(await backupDatabase(join(home, file), join(dir, file))) });
    }
    const extras = EXTRAS.filter((name) => existsSync(join(home, name)));
    for (const name of extras) {
      cpSync(join(home, name), join(dir, name), { recursive: true, preserveTimestamps: true });
      ownerOnly(join(dir, name));
    }
    const manifest: Manifest = { format: 1, createdAt: now(), databases, extras };
    writeFileSync(join(dir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
    if (archive) {
      // The system tar: a backup archive must open with standard tools on any machine. It writes
      // to a file created 0600 here, since tar's own would follow the umask.
      const fd = openSync(out, 'wx', 0o600);
      try {
        execFileSync('tar', ['-czf', '-', '-C', dir, '.'], { stdio: ['ignore', fd, 'pipe'] });
      } catch (err) {
        rmSync(out, { force: true });
        throw err;
      } finally {
        closeSync(fd);
      }
    }
    return { out, manifest };
  } catch (err) {
    if (!archive) rmSync(dir, { recursive: true, force: true });
    throw err;
  } finally {
    if (archive) rmSync(dir, { recursive: true, force: true });
  }
}

async function backupDatabase(source: string, target: string): Promise<{ userVersion: number; pages: number }> {
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

export interface RestoreSummary {
  home: string;
  manifest: Manifest;
  /** Where the files the restore replaced were moved to (kept, never deleted). */
  previous?: string;
}

/**
 * Restores a backup (directory or `.tar.gz`) into a backend home. Refuses with BACKEND_RUNNING
 * while a backend runs on that home, and with BACKUP_INVALID when any database in the backup
 * fails `PRAGMA integrity_check` — checked before anything in the home is touched. Files being
 * replaced move to `<home>/pre-restore-<time>/`.
 */
export function restoreHome(homeDir: string, fromPath: string, now: () => number = Date.now): RestoreSummary {
  const home = resolve(homeDir);
  const from = resolve(fromPath);
  const pid = runningBackendPid(home);
  if (pid !== undefined) throw new TetherError('BACKEND_RUNNING', `A backend (pid ${pid}) is running on ${home}; stop it before restoring`);
  if (!existsSync(from)) throw new TetherError('NOT_FOUND', `No backup at ${from}`);
  const archive = !isDirectory(from);
  if (archive) mkdirSync(dirname(home), { recursive: true });
  const dir = archive ? mkdtempSync(join(dirname(home), `.${basename(home)}-restore-`)) : from;
  try {
    if (archive) execFileSync('tar', ['-xzf', from, '-C', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    const manifest = readManifest(dir);
    for (const { file } of manifest.databases) {
      const db = new Database(join(dir, file), { readonly: true, fileMustExist: true });
      try {
        checkIntegrity(db, file);
      } finally {
        db.close();
      }
    }

    mkdirSync(home, { recursive: true, mode: 0o700 });
    const replaced = [...DATABASES.flatMap((f) => [f, `${f}-wal`, `${f}-shm`]), ...EXTRAS].filter((name) => existsSync(join(home, name)));
    let previous: string | undefined;
    if (replaced.length > 0) {
      previous = join(home, `pre-restore-${new Date(now()).toISOString().replace(/[:.]/g, '-')}`);
      mkdirSync(previous, { mode: 0o700 });
      // A -wal left beside a restored database would be replayed into it: move the trio together.
      for (const name of replaced) renameSync(join(home, name), join(previous, name));
    }
    for (const { file } of manifest.databases) {
      const restoring = join(home, `${file}.restoring`);
      cpSync(join(dir, file), restoring);
      chmodSync(restoring, DATABASE_FILE_MODE);
      // A backup made before sessions were left out still carries them.
      if (file === 'tether.db') {
        const db = new Database(restoring, { fileMustExist: true });
        try {
          endSessions(db);
        } finally {
          db.close();
        }
      }
      renameSync(restoring, join(home, file));
    }
    for (const name of manifest.extras) cpSync(join(dir, name), join(home, name), { recursive: true, preserveTimestamps: true });
    for (const { file } of manifest.databases) {
      const db = new Database(join(home, file), { readonly: true });
      try {
        checkIntegrity(db, file);
      } finally {
        db.close();
      }
    }
    return { home, manifest, previous };
  } finally {
    if (archive) rmSync(dir, { recursive: true, force: true });
  }
}

function readManifest(dir: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8'));
  } catch (cause) {
    throw new TetherError('BACKUP_INVALID', `${MANIFEST} is missing or not JSON in ${dir}`, { cause });
  }
  const parsed = Manifest.safeParse(raw);
  if (!parsed.success) throw new TetherError('BACKUP_INVALID', `${MANIFEST} is not a Tether backup manifest: ${parsed.error.issues[0]?.message ?? ''}`);
  if (!parsed.data.databases.some((d) => d.file === 'tether.db')) throw new TetherError('BACKUP_INVALID', 'The backup holds no tether.db');
  for (const name of parsed.data.extras) {
    if (!(EXTRAS as readonly string[]).includes(name)) throw new TetherError('BACKUP_INVALID', `Unexpected entry ${name} in the manifest`);
  }
  return parsed.data;
}

/** Deletes every login session; `secure_delete` overwrites the freed rows rather than leaving them in free pages. */
function endSessions(db: Database.Database): void {
  const hasSessions = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sessions'").get() !== undefined;
  if (!hasSessions) return;
  db.pragma('secure_delete = ON');
  db.prepare('DELETE FROM sessions').run();
}

/** chmod 0600 for files and 0700 for folders, recursively; a symlink is left alone (chmod would follow it out of the backup). */
function ownerOnly(path: string): void {
  const stat = lstatSync(path);
  if (stat.isDirectory()) {
    chmodSync(path, 0o700);
    for (const name of readdirSync(path)) ownerOnly(join(path, name));
  } else if (stat.isFile()) {
    chmodSync(path, 0o600);
  }
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

function isDirectory(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
}
