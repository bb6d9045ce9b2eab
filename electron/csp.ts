import { CONSOLE_CSP, CONSOLE_CSP_META } from '../protocol/index.js';

export { CONSOLE_CSP };

/** The backend the console talks to, as origins (`https://host:port`, `wss://host:port`). */
export interface CspBackend {
  readonly httpOrigin: string;
  readonly wsOrigin: string;
}

/**
 * The desktop console's policy: the web console's, with connect-src widened from 'self' (the
 * app:// origin, where the API is proxied) to exactly the active backend's origins, for its
 * WebSockets. No backend selected: 'self' only.
 */
export function desktopCsp(backend: CspBackend | null): { header: string; meta: string } {
  const connect = backend === null ? "connect-src 'self'" : `connect-src 'self' ${backend.httpOrigin} ${backend.wsOrigin}`;
  const widen = (policy: string): string => {
    if (!policy.includes("connect-src 'self'")) throw new Error("the console CSP has no connect-src 'self' to widen");
    return policy.replace("connect-src 'self'", connect);
  };
  return { header: widen(CONSOLE_CSP), meta: widen(CONSOLE_CSP_META) };
}

/** `https://host:port` → `wss://host:port`. */
export function webSocketOrigin(httpOrigin: string): string {
  const url = new URL(httpOrigin);
  return `${url.protocol === 'https:' ? 'wss' : 'ws'}://${url.host}`;
}
