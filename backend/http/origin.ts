import type { IncomingMessage } from 'node:http';

/**
 * Cross-site WebSocket hijacking guard: a browser always sends Origin, and a page of another
 * site must not open a console socket with our cookie. Non-browser clients send no Origin.
 */
export function originAllowed(request: IncomingMessage, allowedOrigins: ReadonlySet<string>): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  const host = request.headers.host;
  return allowedOrigins.has(origin) || (host !== undefined && origin === `https://${host}`);
}
