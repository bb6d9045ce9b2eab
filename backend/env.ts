import { z } from 'zod';
import { envHelp, envPositiveInt, parseEnv, Password } from '../protocol/index.js';
import { DatabaseUrl } from './database-url.js';

/**
 * Every environment variable the backend reads, with its meaning (listed by `--help`). The
 * TETHER_HOME, TETHER_LISTEN, TETHER_PUBLIC_URL and TETHER_DATABASE_URL variables are also the defaults of their flags
 * (commander reads them, so a flag still wins); the rest exist only here.
 */
export const BackendEnv = z.object({
  TETHER_HOME: z.string().optional().describe('backend home directory, as --home (default ./.tether)'),
  TETHER_LISTEN: z.string().optional().describe('HOST:PORT to listen on, as --listen (default 0.0.0.0:8443)'),
  TETHER_PUBLIC_URL: z.url({ protocol: /^https$/, error: 'must be an https:// URL' }).optional().describe('URL agents and browsers reach the backend at, as --public-url'),
  TETHER_DATABASE_URL: DatabaseUrl.optional().describe('postgres://… : keep state in PostgreSQL instead of SQLite files in the home, as --database-url; fields it leaves out come from PGUSER, PGPASSWORD, PGHOST, PGPORT, PGDATABASE'),
  TETHER_ADMIN_PASSWORD: Password.optional().describe('password of the first admin, used when there is no user yet (else one is generated and printed once)'),
  TETHER_CONSOLE_DIR: z.string().optional().describe('folder of the built web console served at / (default renderer/dist)'),
  TETHER_SHELL_IDLE_MS: envPositiveInt().optional().describe('end a remote shell after this many ms without input (default 30 min)'),
  TETHER_SHELL_GRACE_MS: envPositiveInt().optional().describe('ms a remote shell whose console connection was lost waits to be resumed (default 60000)'),
  TETHER_SHELL_RETENTION_DAYS: envPositiveInt().optional().describe('delete shell recordings older than this many days (default 30)'),
  TETHER_MAX_REKEYS_PER_MINUTE: envPositiveInt().optional().describe('key rotations a device may ask for per minute before it is dropped (tests)'),
});
export type BackendEnv = z.output<typeof BackendEnv>;

/** Reads and checks the backend's variables; BAD_REQUEST names a bad one. */
export function readBackendEnv(env: Readonly<Record<string, string | undefined>>): BackendEnv {
  return parseEnv(BackendEnv, env);
}

export const BACKEND_ENV_HELP = envHelp(BackendEnv);
