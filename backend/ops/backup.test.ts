import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TetherError } from '../../protocol/index.js';
import { AuditLog } from '../audit/audit-log.js';
import { storesOnSqlite } from '../store/open-store.js';
import { UserService } from '../auth/users.js';
import { openDatabase } from '../store/sqlite/db.js';
import { MAIN_MIGRATIONS, METRICS_MIGRATIONS } from '../store/migrations.js';
import { backupHome, restoreHome } from './backup.js';
import { runningBackendPid, writePidFile } from './pid-file.js';

const dirs: string[] = [];
const temp = (name: string) => {
  const dir = mkdtempSync(join(tmpdir(), `tether-ops-${name}-`));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A backend home with both databases (left open, WAL, as a running backend has them) and a PKI folder. */
function makeHome(): { home: string; db: Database.Database; metrics: Database.Database } {
  const home = temp('home');
  const db = openDatabase(join(home, 'tether.db'), MAIN_MIGRATIONS);
  const metrics = openDatabase(join(home, 'metrics.db'), METRICS_MIGRATIONS);
  mkdirSync(join(home, 'pki'));
  writeFileSync(join(home, 'pki', 'ca.crt'), 'CA');
  writeFileSync(join(home, 'backend.json'), '{}');
  db.exec('CREATE TABLE probe (n INTEGER)');
  return { home, db, metrics };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof TetherError ? err.code : String(err);
  }
  return undefined;
}

describe('backupHome / restoreHome', () => {
  it('backs up open WAL databases (uncheckpointed writes included) and restores them into a new home', async () => {
    const { home, db, metrics } = makeHome();
    const insert = db.prepare('INSERT INTO probe (n) VALUES (?)');
    for (let i = 0; i < 500; i++) insert.run(i);
    expect(existsSync(join(home, 'tether.db-wal'))).toBe(true);
    const out = join(temp('out'), 'b1');
    const summary = await backupHome(home, out);
    db.close();
    metrics.close();
    expect(summary.manifest.databases.map((d) => d.file)).toEqual(['tether.db', 'metrics.db']);
    expect(summary.manifest.extras).toEqual(['pki', 'backend.json']);
    expect(readdirSync(out).sort()).toEqual(['backend.json', 'manifest.json', 'metrics.db', 'pki', 'tether.db']);

    const target = join(temp('restore'), 'home');
    const restored = restoreHome(target, out);
    expect(restored.previous).toBeUndefined();
    const copy = new Database(join(target, 'tether.db'), { readonly: true });
    expect(copy.prepare('SELECT count(*) FROM probe').pluck().get()).toBe(500);
    expect(copy.pragma('user_version', { simple: true })).toBe(MAIN_MIGRATIONS.at(-1)?.version);
    copy.close();
    expect(readFileSync(join(target, 'pki', 'ca.crt'), 'utf8')).toBe('CA');
  });

  it('writes and reads a .tar.gz, and keeps the replaced files aside', async () => {
    const { home, db, metrics } = makeHome();
    db.prepare('INSERT INTO probe (n) VALUES (42)').run();
    const archive = join(temp('out'), 'backup.tar.gz');
    await backupHome(home, archive);
    db.prepare('INSERT INTO probe (n) VALUES (43)').run();
    db.close();
    metrics.close();
    const restored = restoreHome(home, archive);
    expect(restored.previous && readdirSync(restored.previous).sort()).toContain('tether.db');
    const copy = new Database(join(home, 'tether.db'), { readonly: true });
    expect(copy.prepare('SELECT n FROM probe').pluck().all()).toEqual([42]);
    copy.close();
  });

  it('refuses to overwrite an existing backup', async () => {
    const { home, db, metrics } = makeHome();
    const out = temp('out');
    writeFileSync(join(out, 'something'), 'x');
    await expect(backupHome(home, out)).rejects.toMatchObject({ code: 'CONFLICT' });
    db.close();
    metrics.close();
  });

  it('refuses with BACKEND_RUNNING while the pid file names a live process, and not when it is stale', async () => {
    const { home, db, metrics } = makeHome();
    const out = join(temp('out'), 'b');
    await backupHome(home, out);
    db.close();
    metrics.close();
    const remove = writePidFile(home);
    expect(runningBackendPid(home)).toBe(process.pid);
    expect(codeOf(() => restoreHome(home, out))).toBe('BACKEND_RUNNING');
    remove();
    expect(existsSync(join(home, 'backend.pid'))).toBe(false);
    // A pid that cannot be alive (beyond pid_max) is a stale file left by a crash.
    writeFileSync(join(home, 'backend.pid'), '2147483646\n');
    expect(codeOf(() => restoreHome(home, out))).toBeUndefined();
  });

  it('refuses a corrupt backup with BACKUP_INVALID before touching the home', async () => {
    const { home, db, metrics } = makeHome();
    db.prepare('INSERT INTO probe (n) VALUES (1)').run();
    const out = join(temp('out'), 'b');
    await backupHome(home, out);
    db.close();
    metrics.close();
    // Scribble over a b-tree page of the copy.
    const fd = openSync(join(out, 'tether.db'), 'r+');
    writeSync(fd, Buffer.alloc(4096, 0xab), 0, 4096, 4096 * 2);
    closeSync(fd);
    const before = readFileSync(join(home, 'tether.db'));
    expect(codeOf(() => restoreHome(home, out))).toBe('BACKUP_INVALID');
    expect(readFileSync(join(home, 'tether.db')).equals(before)).toBe(true);
    expect(readdirSync(home).some((f) => f.startsWith('pre-restore'))).toBe(false);

    rmSync(join(out, 'manifest.json'));
    expect(codeOf(() => restoreHome(home, out))).toBe('BACKUP_INVALID');
  });

  describe('under a permissive umask (022, then 000)', () => {
    let umask: number;
    beforeEach(() => {
      umask = process.umask(0o022);
    });
    afterEach(() => {
      process.umask(umask);
    });

    /** Every file and folder under `root` with its permission bits, symlinks left out. */
    const modes = (root: string): Array<[string, number]> =>
      readdirSync(root, { recursive: true, encoding: 'utf8' }).map((name) => [name, statSync(join(root, name)).mode & 0o777]);

    it('creates the databases and their -wal/-shm 0600, and narrows existing 0644 ones', () => {
      const home = temp('home');
      const db = openDatabase(join(home, 'tether.db'), MAIN_MIGRATIONS);
      db.exec('CREATE TABLE probe (n INTEGER); INSERT INTO probe VALUES (1)');
      for (const file of ['tether.db', 'tether.db-wal', 'tether.db-shm']) expect([file, statSync(join(home, file)).mode & 0o777]).toEqual([file, 0o600]);
      db.close();
      process.umask(0o000);
      writeFileSync(join(home, 'metrics.db'), '', { mode: 0o644 });
      chmodSync(join(home, 'tether.db'), 0o644);
      openDatabase(join(home, 'metrics.db'), METRICS_MIGRATIONS).close();
      openDatabase(join(home, 'tether.db'), MAIN_MIGRATIONS).close();
      expect(statSync(join(home, 'metrics.db')).mode & 0o777).toBe(0o600);
      expect(statSync(join(home, 'tether.db')).mode & 0o777).toBe(0o600);
    });

    it('writes a directory backup, a .tar.gz and a restored home owner-only', async () => {
      const { home, db, metrics } = makeHome();
      writeFileSync(join(home, 'pki', 'ca.key'), 'KEY', { mode: 0o600 });
      mkdirSync(join(home, 'recordings'));
      writeFileSync(join(home, 'recordings', 's1.cast'), '{}');
      process.umask(0o000);
      const dirOut = join(temp('out'), 'b');
      await backupHome(home, dirOut);
      expect(statSync(dirOut).mode & 0o777).toBe(0o700);
      const dirModes = modes(dirOut);
      expect(dirModes.map(([name]) => name)).toEqual(expect.arrayContaining(['tether.db', 'metrics.db', 'pki/ca.key', 'pki/ca.crt', 'backend.json', 'recordings/s1.cast', 'manifest.json']));
      for (const [name, mode] of dirModes) expect([name, mode]).toEqual([name, statSync(join(dirOut, name)).isDirectory() ? 0o700 : 0o600]);

      const archive = join(temp('out'), 'b.tar.gz');
      await backupHome(home, archive);
      expect(statSync(archive).mode & 0o777).toBe(0o600);
      db.close();
      metrics.close();

      const target = join(temp('restore'), 'home');
      restoreHome(target, archive);
      for (const file of ['tether.db', 'metrics.db', 'pki/ca.key']) expect([file, statSync(join(target, file)).mode & 0o777]).toEqual([file, 0o600]);
    });
  });

  it('leaves login sessions out of a backup, and ends those an older backup still carries on restore', async () => {
    const { home, db, metrics } = makeHome();
    const stores = storesOnSqlite(db);
    const users = new UserService(stores, new AuditLog(stores));
    await users.add('alice', 'a long password', 'admin', null, 'test');
    const { token } = await users.login({ username: 'alice', password: 'a long password' });
    expect((await users.authenticate(token)).username).toBe('alice');
    const out = join(temp('out'), 'b');
    await backupHome(home, out);
    // The live home keeps its sessions.
    expect((await users.authenticate(token)).username).toBe('alice');
    db.close();
    metrics.close();
    const sessionsIn = (file: string) => {
      const copy = new Database(file, { readonly: true });
      try {
        return copy.prepare('SELECT count(*) FROM sessions').pluck().get();
      } finally {
        copy.close();
      }
    };
    expect(sessionsIn(join(out, 'tether.db'))).toBe(0);

    // A backup made before sessions were left out.
    const copy = new Database(join(home, 'tether.db'));
    const rows = copy.prepare('SELECT * FROM sessions').all() as Array<Record<string, unknown>>;
    copy.close();
    expect(rows).toHaveLength(1);
    const old = new Database(join(out, 'tether.db'));
    old.prepare('INSERT INTO sessions (token_hash, user_id, created_at, expires_at, last_seen_at) VALUES (@token_hash, @user_id, @created_at, @expires_at, @last_seen_at)').run(rows[0]);
    old.close();
    const target = join(temp('restore'), 'home');
    restoreHome(target, out);
    expect(sessionsIn(join(target, 'tether.db'))).toBe(0);
    const restored = openDatabase(join(target, 'tether.db'), MAIN_MIGRATIONS);
    const restoredStores = storesOnSqlite(restored);
    await expect(new UserService(restoredStores, new AuditLog(restoredStores)).authenticate(token)).rejects.toMatchObject({ code: 'SESSION_INVALID' });
    restored.close();
  });
});
