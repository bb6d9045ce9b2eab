import { parseArgs } from 'node:util';
import { CA_PIN_PATTERN } from '../protocol/index.js';

/** What the desktop shell is started with. */
export interface LaunchOptions {
  /** The backend to connect to (becomes a backend profile; the console itself loads from app://). */
  consoleUrl: string;
  /** When set, the backend's certificate is accepted only if it chains to the CA with this pin. */
  caPin: string | null;
}

export type LaunchResult = { ok: true; options: LaunchOptions } | { ok: false; message: string };

const USAGE = 'Usage: tether-desktop --console-url https://HOST:PORT/ [--ca-pin sha256:<hex>] (or TETHER_CONSOLE_URL, TETHER_CA_PIN)';

/**
 * Reads `--console-url` (else `TETHER_CONSOLE_URL`) and `--ca-pin` (else `TETHER_CA_PIN`).
 * `argv` is Electron's whole `process.argv`: the executable, maybe the app path, and Chromium
 * switches it knows nothing about, which are let through.
 */
export function readLaunchOptions(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): LaunchResult {
  const { values } = parseArgs({
    args: argv.slice(1),
    options: { 'console-url': { type: 'string' }, 'ca-pin': { type: 'string' } },
    strict: false,
    allowPositionals: true,
  });
  const rawUrl = stringOrUndefined(values['console-url']) ?? env.TETHER_CONSOLE_URL;
  if (rawUrl === undefined || rawUrl === '') return { ok: false, message: `No console URL. ${USAGE}` };
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return { ok: false, message: `Not a URL: ${JSON.stringify(rawUrl)}. ${USAGE}` };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { ok: false, message: `The console URL must be https:// or http://, not ${url.protocol}//` };
  }
  const rawPin = stringOrUndefined(values['ca-pin']) ?? env.TETHER_CA_PIN;
  if (rawPin !== undefined && rawPin !== '' && !CA_PIN_PATTERN.test(rawPin)) {
    return { ok: false, message: `A CA pin looks like sha256:<64 lower-case hex digits>, not ${JSON.stringify(rawPin)}` };
  }
  return { ok: true, options: { consoleUrl: url.href, caPin: rawPin === undefined || rawPin === '' ? null : rawPin } };
}

function stringOrUndefined(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/**
 * The backend profile named on the command line, if any (`npm start` and the e2e tests name
 * the backend they just started). The desktop app trusts a backend only through a CA pin, so
 * a URL without one is refused rather than connected to unverified.
 */
export function launchProfile(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): { ok: true; profile: { name: string; url: string; caPin: string } | null } | { ok: false; message: string } {
  const launch = readLaunchOptions(argv, env);
  if (!launch.ok) return launch.message.startsWith('No console URL') ? { ok: true, profile: null } : launch;
  const { consoleUrl, caPin } = launch.options;
  if (caPin === null) return { ok: false, message: `The desktop console connects only to a pinned backend: add --ca-pin sha256:<hex> (npx tether-backend ca pin). ${USAGE}` };
  const url = new URL(consoleUrl);
  return { ok: true, profile: { name: `Backend at ${url.host}`, url: url.origin, caPin } };
}
