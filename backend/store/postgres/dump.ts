import { spawn } from 'node:child_process';
import { closeSync, openSync, rmSync, statSync } from 'node:fs';
import pg from 'pg';
import { TetherError } from '../../../protocol/index.js';
import { quoteIdent, redactUrl } from './pool.js';

/**
 * libpq's connection for the client tools: the URL without its password (a command line is
 * visible to every user of the machine in `ps`), which goes in PGPASSWORD instead. Fields the URL
 * leaves out come from the PG* variables, which libpq reads as pg does.
 */
function libpqConnection(url: string): { dbname: string; env: NodeJS.ProcessEnv } {
  const parsed = new URL(url);
  const password = decodeURIComponent(parsed.password);
  parsed.password = '';
  return { dbname: parsed.toString(), env: { ...process.env, ...(password && { PGPASSWORD: password }) } };
}

async function runTool(tool: string, args: string[], env: NodeJS.ProcessEnv, stdout: 'ignore' | number): Promise<void> {
  const child = spawn(tool, args, { env, stdio: ['ignore', stdout, 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    // The tail is what says why; a runaway tool must not fill memory.
    stderr = (stderr + chunk).slice(-4000);
  });
  const code = await new Promise<number | null>((resolveExit, reject) => {
    child.on('error', reject);
    child.on('close', (exitCode) => resolveExit(exitCode));
  }).catch((err: unknown) => {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new TetherError('TOOL_FAILED', missing
      ? `${tool} is not installed: install the PostgreSQL client tools (e.g. apt install postgresql-client), at least the server's major version`
      : `${tool} could not be started: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  });
  if (code !== 0) throw new TetherError('TOOL_FAILED', `${tool} failed (exit ${String(code)}): ${stderr.trim()}`);
}

/**
 * Dumps the database at `url` with pg_dump in its custom format (compressed, restorable table by
 * table with pg_restore) into `file`, created owner-only (0600) whatever the umask: the dump
 * holds password hashes and the devices' token hashes. Login sessions' rows are left out, as in a
 * SQLite backup. Returns the dump's size.
 */
export async function dumpPostgres(url: string, file: string, options: { schema?: string } = {}): Promise<{ bytes: number }> {
  const { dbname, env } = libpqConnection(url);
  const sessions = options.schema ? `${quoteIdent(options.schema)}.sessions` : 'sessions';
  const args = ['--format=custom', '--no-owner', '--no-privileges', `--exclude-table-data=${sessions}`, ...(options.schema ? [`--schema=${options.schema}`] : []), `--dbname=${dbname}`];
  const fd = openSync(file, 'wx', 0o600);
  try {
    await runTool('pg_dump', args, env, fd);
  } catch (err) {
    closeSync(fd);
    rmSync(file, { force: true });
    throw err;
  }
  closeSync(fd);
  return { bytes: statSync(file).size };
}

/**
 * Restores a pg_dump custom-format file into the database at `url`, in one transaction (a failure
 * leaves the database as it was). The database must be empty (TARGET_NOT_EMPTY otherwise):
 * restoring over a live schema would mix two states. Migrations newer than the dump are applied
 * by the next backend start.
 */
export async function restorePostgres(url: string, file: string): Promise<{ tables: number }> {
  const tables = await userTables(url);
  if (tables.length > 0) {
    throw new TetherError('TARGET_NOT_EMPTY', `The database at ${redactUrl(url)} already has tables (${tables.slice(0, 5).join(', ')}${tables.length > 5 ? ', …' : ''}); restore into a new, empty database (createdb NAME) and point --database-url at it`);
  }
  const { dbname, env } = libpqConnection(url);
  await runTool('pg_restore', ['--no-owner', '--no-privileges', '--exit-on-error', '--single-transaction', `--dbname=${dbname}`, file], env, 'ignore');
  return { tables: (await userTables(url)).length };
}

/** Tables in the database's current schema. */
async function userTables(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
    const { rows } = await client.query<{ name: string }>("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1");
    return rows.map((r) => r.name);
  } catch (err) {
    throw new TetherError('STORE_UNAVAILABLE', `Cannot use the PostgreSQL database at ${redactUrl(url)}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  } finally {
    await client.end().catch(() => undefined);
  }
}
