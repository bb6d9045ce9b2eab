import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { CaPin, Username } from '../protocol/index.js';
import { CliError } from './cli-error.js';

/** What `tether login` keeps: where the backend is, the CA that was checked against the pin, and the session. */
export const Credentials = z.object({
  url: z.string().url(),
  caPin: CaPin,
  /** The CA whose SPKI matched the pin at login: later connections trust only it (and check the host name). */
  caCertPem: z.string().min(1).max(64 * 1024),
  username: Username,
  token: z.string().min(1).max(1024),
  expiresAt: z.number(),
});
export type Credentials = z.infer<typeof Credentials>;

/** `$XDG_CONFIG_HOME/tether/credentials.json`, else `~/.config/tether/credentials.json`. */
export function credentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  // The XDG spec says a relative value is invalid and must be ignored.
  const base = xdg !== undefined && xdg.startsWith('/') ? xdg : join(homedir(), '.config');
  return join(base, 'tether', 'credentials.json');
}

/**
 * Writes the file 0600 in a 0700 directory, whatever the umask: written to a temporary name
 * created 0600 and renamed, so no reader ever sees a partial file or a wider mode.
 */
export function saveCredentials(path: string, credentials: Credentials): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // mkdir leaves an existing directory as it is; the token must not sit in a readable one.
  if ((statSync(dir).mode & 0o777) !== 0o700) chmodSync(dir, 0o700);
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    renameSync(temporary, path);
  } catch (err) {
    rmSync(temporary, { force: true });
    throw err;
  }
}

/** The stored login, or UNAUTHORIZED when there is none (or it does not parse). */
export function loadCredentials(path: string): Credentials {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw CliError.of('UNAUTHORIZED', 'Not logged in: run `tether login URL --ca-pin sha256:… --username U`');
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  const parsed = Credentials.safeParse(json);
  if (!parsed.success) throw CliError.of('UNAUTHORIZED', `${path} is not a valid credentials file: run \`tether login\` again`);
  return parsed.data;
}

/** True when a file was there to delete. */
export function removeCredentials(path: string): boolean {
  try {
    rmSync(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
