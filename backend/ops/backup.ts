import { execFileSync } from 'node:child_process';
import { chmodSync, closeSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { TetherError } from '../../protocol/index.js';
import { dumpPostgres, restorePostgres } from '../store/postgres/dump.js';
import { backupSqliteDatabase, checkSqliteIntegrity, endSqliteSessions } from '../store/sqlite/backup.js';
import { DATABASE_FILE_MODE } from '../store/sqlite/db.js';
import { runningBackendPid } from './pid-file.js';

/** The databases of a backend home, in the order they are copied. */
export const DATABASES = ['tether.db', 'metrics.db'] as const;
/** Files and folders besides the databases that a restored backend needs: its CA and identity, and shell recordings. */
const EXTRAS = ['pki', 'backend.json', 'recordings'] as const;
const MANIFEST = 'manifest.json';
/** The pg_dump (custom format) of a backend on PostgreSQL, in place of the SQLite files. */
const POSTGRES_DUMP = 'postgres.dump';

const Manifest = z.object({
  format: z.literal(1),
  createdAt: z.number().int(),
  databases: z.array(z.object({ file: z.enum(DATABASES), userVersion: z.number().int(), pages: z.number().int() })),
  /** Set when the backend ran on PostgreSQL: `databases` is then empty. */
  postgres: z.object({ file: z.literal(POSTGRES_DUMP), bytes: z.number().int() }).optional(),
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
 * With `databaseUrl` (a backend on PostgreSQL) the database goes in as one pg_dump file
 * (custom format, `postgres.dump`) instead, beside the same PKI and recordings of the home.
 *
 * The backup holds the CA private key and the users' password hashes: every file in it, and the
 * archive, is owner-only (0600, folders 0700) whatever the umask. Login sessions are left out, so
 * a restore never revives a session that was ended after the backup.
 */
export async function backupHome(homeDir: string, outPath: string, options: { databaseUrl?: string; now?: () => number } = {}): Promise<BackupSummary> {
  const home = resolve(homeDir);
  const out = resolve(outPath);
  const now = options.now ?? Date.now;
  if (options.databaseUrl) {
    if (!existsSync(join(home, 'pki'))) throw new TetherError('NOT_FOUND', `No backend home at ${home} (its pki folder is missing): --home must name the home of the backend that uses this database`);
  } else if (!existsSync(join(home, 'tether.db'))) throw new TetherError('NOT_FOUND', `No backend home at ${home} (tether.db is missing)`);
  if (existsSync(out) && (!isDirectory(out) || readdirSync(out).length > 0)) throw new TetherError('CONFLICT', `${out} already exists; choose a new path`);
  const archive = isArchive(out);
  const dir = archive ? mkdtempSync(join(dirname(out), '.tether-backup-')) : out;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  try {
    const databases: Manifest['databases'] = [];
    let postgres: Manifest['postgres'];
    if (options.databaseUrl) {
      postgres = { file: POSTGRES_DUMP, ...(await dumpPostgres(options.databaseUrl, join(dir, POSTGRES_DUMP))) };
    } else {
      for (const file of DATABASES) {
        if (!existsSync(join(home, file))) continue;
        databases.push({ file, ...(await backupSqliteDatabase(join(home, file), join(dir, file))) });
      }
    }
    const extras = EXTRAS.filter((name) => existsSync(join(home, name)));
    for (const name of extras) {
      cpSync(join(home, name), join(dir, name), { recursive: true, preserveTimestamps: true });
      ownerOnly(join(dir, name));
    }
    const manifest: Manifest = { format: 1, createdAt: now(), databases, ...(postgres && { postgres }), extras };
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
  const { home, from } = restorePaths(homeDir, fromPath);
  return withBackupDir(home, from, (dir) => {
    const manifest = readManifest(dir);
    if (manifest.postgres) throw new TetherError('BACKUP_INVALID', 'This backup holds a PostgreSQL dump, not SQLite databases: restore it with --database-url naming an empty PostgreSQL database');
    for (const { file } of manifest.databases) checkSqliteIntegrity(join(dir, file), file);

    mkdirSync(home, { recursive: true, mode: 0o700 });
    // A -wal left beside a restored database would be replayed into it: move the trio together.
    const previous = moveAside(home, [...DATABASES.flatMap((f) => [f, `${f}-wal`, `${f}-shm`]), ...EXTRAS], now);
    for (const { file } of manifest.databases) {
      const restoring = join(home, `${file}.restoring`);
      cpSync(join(dir, file), restoring);
      chmodSync(restoring, DATABASE_FILE_MODE);
      // A backup made before sessions were left out still carries them.
      if (file === 'tether.db') endSqliteSessions(restoring);
      renameSync(restoring, join(home, file));
    }
    copyExtras(dir, home, manifest);
    for (const { file } of manifest.databases) checkSqliteIntegrity(join(home, file), file);
    return { home, manifest, previous };
  });
}

/**
 * Restores a backup taken of a backend on PostgreSQL: pg_restore of its dump into the database at
 * `databaseUrl`, which must be empty (TARGET_NOT_EMPTY; the restore is one transaction, so a
 * failure leaves it empty), then the PKI and recordings into the home as `restoreHome` does.
 * Refuses with BACKEND_RUNNING while a backend runs on the home.
 */
export async function restoreHomeOnPostgres(homeDir: string, fromPath: string, databaseUrl: string, now: () => number = Date.now): Promise<RestoreSummary> {
  const { home, from } = restorePaths(homeDir, fromPath);
  return withBackupDirAsync(home, from, async (dir) => {
    const manifest = readManifest(dir);
    if (!manifest.postgres) throw new TetherError('BACKUP_INVALID', 'This backup holds SQLite databases, not a PostgreSQL dump: restore it into a home without --database-url, then copy that home with `tether-backend migrate-store`');
    await restorePostgres(databaseUrl, join(dir, manifest.postgres.file));
    mkdirSync(home, { recursive: true, mode: 0o700 });
    const previous = moveAside(home, EXTRAS, now);
    copyExtras(dir, home, manifest);
    return { home, manifest, previous };
  });
}

function restorePaths(homeDir: string, fromPath: string): { home: string; from: string } {
  const home = resolve(homeDir);
  const from = resolve(fromPath);
  const pid = runningBackendPid(home);
  if (pid !== undefined) throw new TetherError('BACKEND_RUNNING', `A backend (pid ${pid}) is running on ${home}; stop it before restoring`);
  if (!existsSync(from)) throw new TetherError('NOT_FOUND', `No backup at ${from}`);
  return { home, from };
}

/** The backup as a directory: itself, or an archive unpacked next to the home (removed after `fn`). */
function openBackupDir(home: string, from: string): { dir: string; done(): void } {
  if (isDirectory(from)) return { dir: from, done: () => undefined };
  mkdirSync(dirname(home), { recursive: true });
  const dir = mkdtempSync(join(dirname(home), `.${basename(home)}-restore-`));
  const done = () => rmSync(dir, { recursive: true, force: true });
  try {
    execFileSync('tar', ['-xzf', from, '-C', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    done();
    throw err;
  }
  return { dir, done };
}

function withBackupDir<T>(home: string, from: string, fn: (dir: string) => T): T {
  const backup = openBackupDir(home, from);
  try {
    return fn(backup.dir);
  } finally {
    backup.done();
  }
}

async function withBackupDirAsync<T>(home: string, from: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const backup = openBackupDir(home, from);
  try {
    return await fn(backup.dir);
  } finally {
    backup.done();
  }
}

/** Moves those of `names` present in the home to `<home>/pre-restore-<time>/` (kept, never deleted); returns that folder if any moved. */
function moveAside(home: string, names: readonly string[], now: () => number): string | undefined {
  const replaced = names.filter((name) => existsSync(join(home, name)));
  if (replaced.length === 0) return undefined;
  const previous = join(home, `pre-restore-${new Date(now()).toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(previous, { mode: 0o700 });
  for (const name of replaced) renameSync(join(home, name), join(previous, name));
  return previous;
}

function copyExtras(dir: string, home: string, manifest: Manifest): void {
  for (const name of manifest.extras) cpSync(join(dir, name), join(home, name), { recursive: true, preserveTimestamps: true });
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
  if (!parsed.data.postgres && !parsed.data.databases.some((d) => d.file === 'tether.db')) throw new TetherError('BACKUP_INVALID', 'The backup holds no tether.db');
  for (const name of parsed.data.extras) {
    if (!(EXTRAS as readonly string[]).includes(name)) throw new TetherError('BACKUP_INVALID', `Unexpected entry ${name} in the manifest`);
  }
  return parsed.data;
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

function isDirectory(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
}
