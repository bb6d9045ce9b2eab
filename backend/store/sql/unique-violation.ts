/**
 * True when `err` is a unique-constraint violation, as either driver reports it: better-sqlite3's
 * SqliteError code `SQLITE_CONSTRAINT_UNIQUE` (or `SQLITE_CONSTRAINT_PRIMARYKEY`), pg's SQLSTATE 23505.
 * Read from the error's `code` so this module imports no driver.
 */
export function isUniqueViolation(err: unknown): boolean {
  if (typeof err !== 'object' || err === null || !('code' in err)) return false;
  const { code } = err;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}
