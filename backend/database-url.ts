import { InvalidArgumentError, Option } from 'commander';
import { z } from 'zod';

/**
 * A PostgreSQL connection URL. Fields it leaves out (user, password, host, port, database) come
 * from the standard PG* variables (PGUSER, PGPASSWORD, PGHOST, PGPORT, PGDATABASE; and ~/.pgpass),
 * which the pg client reads itself, so a password need not appear in the URL.
 */
export const DatabaseUrl = z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL');

/** commander's parser for a flag taking a {@link DatabaseUrl}. */
export function parseDatabaseUrlArg(value: string): string {
  const parsed = DatabaseUrl.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues[0]?.message ?? 'must be a postgres:// URL');
  return parsed.data;
}

/**
 * `--database-url` of every command that opens the store: PostgreSQL at this URL, or (unset)
 * SQLite files in the home. An empty value (`TETHER_DATABASE_URL= cmd`) reads as '', which
 * callers treat as unset, as parseEnv does (commander turns an undefined from a parser into '').
 */
export const databaseUrlOption = (): Option =>
  new Option('--database-url <url>', 'postgres://… : use PostgreSQL instead of SQLite files in the home (fields the URL leaves out come from PGUSER, PGPASSWORD, PGHOST, PGPORT, PGDATABASE)')
    .env('TETHER_DATABASE_URL').argParser((value: string) => (value === '' ? '' : parseDatabaseUrlArg(value)));
