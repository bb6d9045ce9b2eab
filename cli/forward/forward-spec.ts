import { ForwardHost } from '../../protocol/index.js';
import { CliError } from '../cli-error.js';

/** `[BIND:]LPORT:HOST:RPORT`, as `ssh -L` takes it. */
export interface ForwardSpec {
  bind: string;
  localPort: number;
  host: string;
  remotePort: number;
}

/** Splits on colons outside brackets, so `[::1]:8080:[::1]:80` has four parts. */
function splitOutsideBrackets(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '[') depth++;
    if (ch === ']') depth--;
    if (ch === ':' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts;
}

function port(text: string, what: string, min: number): number {
  const n = Number(text);
  if (!/^\d{1,5}$/.test(text) || n < min || n > 65535) throw CliError.of('BAD_REQUEST', `${what} must be a port number (${min}-65535), not "${text}"`);
  return n;
}

function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** Parses a forward spec; the listener binds to 127.0.0.1 unless BIND says otherwise, LPORT 0 picks a free port. */
export function parseForwardSpec(text: string): ForwardSpec {
  const parts = splitOutsideBrackets(text);
  if (parts.length !== 3 && parts.length !== 4) throw CliError.of('BAD_REQUEST', `Use [BIND:]LPORT:HOST:RPORT, e.g. 8080:127.0.0.1:80 (got "${text}")`);
  const [bind, lport, host, rport] = parts.length === 4 ? parts : ['127.0.0.1', ...parts];
  if (!ForwardHost.safeParse(host).success) throw CliError.of('BAD_REQUEST', `"${host ?? ''}" is not a host name or IP address`);
  if (!bind) throw CliError.of('BAD_REQUEST', 'The bind address is empty');
  return { bind: unbracket(bind), localPort: port(lport ?? '', 'LPORT', 0), host: host ?? '', remotePort: port(rport ?? '', 'RPORT', 1) };
}
