import { fetchPinnedCa as fetchPinnedCaPem } from '../channel/pinned-ca.js';
import { CliError } from './cli-error.js';

/** The backend's URL as the CLI stores it: https origin only (wss:// is taken and turned into https://). */
export function backendOrigin(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw CliError.of('BAD_REQUEST', `Not a URL: ${JSON.stringify(raw)}`);
  }
  if (url.protocol === 'wss:') url.protocol = 'https:';
  if (url.protocol !== 'https:') throw CliError.of('BAD_REQUEST', `The backend URL must be https://, not ${url.protocol}//`);
  if (url.username !== '' || url.password !== '') throw CliError.of('BAD_REQUEST', 'The backend URL must not carry a user or password');
  return new URL(url.origin);
}

/**
 * Connects to the backend (TLS handshake only; nothing is sent), checks its chain against `pin`
 * as the agent's enrolment does (channel/pinned-ca.ts), and returns the pinned CA certificate as
 * PEM. CA_PIN_MISMATCH when the chain does not check out, BACKEND_UNREACHABLE when no handshake
 * completes in `timeoutMs`, BAD_REQUEST for a malformed pin.
 */
export async function fetchPinnedCa(origin: URL, pin: string, timeoutMs = 10_000): Promise<string> {
  try {
    return await fetchPinnedCaPem(origin.href, pin, timeoutMs);
  } catch (err) {
    throw CliError.from(err);
  }
}
