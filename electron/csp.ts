/**
 * The console's Content-Security-Policy: scripts, styles, fetches and sockets from the console's
 * own origin only; no inline code, no eval, no plugins, no framing. Kept in step with the
 * policy renderer/vite.config.ts writes into the built index.html and with the backend's header.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "connect-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Response headers with {@link CONSOLE_CSP} added when the server sent no policy of its own.
 * A server's policy is left alone: it knows its pages better, and two policies would both apply.
 */
export function withDefaultCsp(headers: Readonly<Record<string, string[]>> | undefined, csp: string = CONSOLE_CSP): Record<string, string[]> {
  const result: Record<string, string[]> = { ...headers };
  const present = Object.keys(result).some((name) => name.toLowerCase() === 'content-security-policy');
  if (!present) result['Content-Security-Policy'] = [csp];
  return result;
}
