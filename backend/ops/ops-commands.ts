import { resolve } from 'node:path';
import type { Command, Option } from 'commander';
import { TetherError } from '../../protocol/index.js';
import { databaseUrlOption, parseDatabaseUrlArg } from '../database-url.js';
import { migrateStore, type TableProgress } from '../store/migrate-store.js';
import { printOut, terminalSafe } from '../terminal-output.js';
import { backupHome, restoreHome, restoreHomeOnPostgres } from './backup.js';
import { runningBackendPid } from './pid-file.js';

/** `backup`, `restore` and `migrate-store` subcommands of `tether-backend`. */
export function addOpsCommands(program: Command, homeOption: () => Option): void {
  program
    .command('backup')
    .description('online backup of the databases, PKI and recordings (safe while the backend runs); on PostgreSQL the database through pg_dump')
    .addOption(homeOption())
    .addOption(databaseUrlOption())
    .requiredOption('--out <path>', 'a new directory, or a file ending in .tar.gz')
    .option('--json', 'print JSON')
    .action(async (opts: { home: string; databaseUrl?: string; out: string; json?: boolean }) => {
      const summary = await backupHome(opts.home, opts.out, { databaseUrl: opts.databaseUrl || undefined });
      if (opts.json) printOut(`${JSON.stringify(summary, null, 2)}\n`);
      else if (summary.manifest.postgres) {
        printOut(`backup written to ${summary.out}: ${summary.manifest.postgres.file} (pg_dump custom format, ${summary.manifest.postgres.bytes} bytes) and ${summary.manifest.extras.join(', ')}\n`);
      } else {
        const dbs = summary.manifest.databases.map((d) => `${d.file} (schema ${d.userVersion}, ${d.pages} pages)`).join(', ');
        printOut(`backup written to ${summary.out}: ${dbs}; integrity ok\n`);
      }
    });

  program
    .command('restore')
    .description('restore a backup into a home (and, on PostgreSQL, into an empty database); refuses while a backend runs on it')
    .addOption(homeOption())
    .addOption(databaseUrlOption())
    .requiredOption('--from <path>', 'a backup directory or .tar.gz made by `backup`')
    .option('--json', 'print JSON')
    .action(async (opts: { home: string; databaseUrl?: string; from: string; json?: boolean }) => {
      const summary = opts.databaseUrl ? await restoreHomeOnPostgres(opts.home, opts.from, opts.databaseUrl) : restoreHome(opts.home, opts.from);
      if (opts.json) printOut(`${JSON.stringify(summary, null, 2)}\n`);
      else {
        const what = summary.manifest.postgres ? `${summary.manifest.postgres.file} into the PostgreSQL database, ${summary.manifest.extras.join(', ')}` : summary.manifest.databases.map((d) => d.file).join(', ');
        printOut(`restored ${what} into ${summary.home}${summary.manifest.postgres ? '' : '; integrity ok'}\n`);
        if (summary.previous) printOut(`the files it replaced are in ${summary.previous}\n`);
      }
    });

  program
    .command('migrate-store')
    .description('copy a SQLite home (tether.db, metrics.db) into an empty PostgreSQL database; devices keep their certificates and tokens')
    .addOption(homeOption())
    .requiredOption('--to <url>', 'postgres://… of the target database (fields left out come from PGUSER, PGPASSWORD, PGHOST, PGPORT, PGDATABASE)', parseDatabaseUrlArg)
    .option('--force', 'delete everything already in the target database and replace it with the copy')
    .option('--json', 'print the summary as JSON')
    .action(async (opts: { home: string; to: string; force?: boolean; json?: boolean }) => {
      const home = resolve(opts.home);
      const pid = runningBackendPid(home);
      if (pid !== undefined) {
        throw new TetherError('BACKEND_RUNNING', `A backend (pid ${pid}) is running on ${home}: what it writes during the copy would be lost. Stop it first, or copy a snapshot: \`tether-backend backup --home ${home} --out DIR\`, then \`migrate-store --home DIR\``);
      }
      const progress = progressPrinter(process.stderr);
      const summary = await migrateStore({ home, databaseUrl: opts.to, force: opts.force, onProgress: progress.update }).finally(progress.end);
      if (opts.json) {
        printOut(`${JSON.stringify(summary, null, 2)}\n`);
        return;
      }
      if (summary.truncated.length > 0) printOut(`--force: emptied ${summary.truncated.join(', ')} first\n`);
      const width = Math.max(...summary.tables.map((t) => t.table.length));
      printOut(`copied into PostgreSQL:\n${summary.tables.map((t) => `  ${t.table.padEnd(width)}  ${t.rows}`).join('\n')}\n  ${'total'.padEnd(width)}  ${summary.tables.reduce((n, t) => n + t.rows, 0)}\n`);
      printOut('start the backend with --database-url (or TETHER_DATABASE_URL) naming that database, and the same --home for its PKI\n');
    });
}

/**
 * Per-table progress on stderr: one line that updates in place on a terminal, or one line per
 * finished table otherwise (a log file should not fill with carriage returns).
 */
function progressPrinter(stream: NodeJS.WriteStream): { update(progress: TableProgress): void; end(): void } {
  let open = false;
  const line = (p: TableProgress) => terminalSafe(`${p.table}: ${p.copied}/${p.total} rows`);
  if (!stream.isTTY) {
    return { update: (p) => void (p.done && stream.write(`${line(p)}\n`)), end: () => undefined };
  }
  return {
    update(p) {
      stream.write(`\r\x1b[K${line(p)}`);
      open = true;
      if (p.done) {
        stream.write('\n');
        open = false;
      }
    },
    end() {
      if (open) stream.write('\n');
    },
  };
}
