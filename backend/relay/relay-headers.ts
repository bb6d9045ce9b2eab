import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { SESSION_COOKIE } from '../auth/request-auth.js';

/** Headers of one hop only (RFC 9110 §7.6.1), never passed on by a proxy. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
/** Cookies of Tether itself: the device never sees them, and may not set them. */
const OWN_COOKIES = new Set([SESSION_COOKIE]);

/**
 * What relayed pages run under: a sandbox without `allow-same-origin` gives them an opaque
 * origin, so a device's page (which we do not control) cannot read the console's API with the
 * user's session, nor its cookies or storage, although it is served from the backend's origin.
 */
export const RELAY_SANDBOX_CSP = 'sandbox allow-scripts allow-forms allow-popups allow-popups-to-escape-sandbox allow-modals allow-downloads';

/** The `Cookie` header without Tether's own cookies (null when nothing is left). */
export function stripOwnCookies(cookie: string | undefined): string | null {
  if (!cookie) return null;
  const kept = cookie.split(';').map((c) => c.trim()).filter((c) => c !== '' && !OWN_COOKIES.has(c.slice(0, c.indexOf('=') < 0 ? c.length : c.indexOf('='))));
  return kept.length > 0 ? kept.join('; ') : null;
}

/**
 * The browser's request headers as the device's web server gets them: hop-by-hop headers and
 * Tether's cookies removed, `Host` the device's own loopback address, the relay prefix in
 * `X-Forwarded-Prefix` (for apps that can build their links from it).
 */
export function requestHeadersForDevice(headers: IncomingHttpHeaders, opts: { prefix: string; port: number; publicHost: string; upgrade: boolean }): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || name === 'host' || name === 'cookie' || name.startsWith('x-forwarded-')) continue;
    out[name] = value;
  }
  const cookie = stripOwnCookies(headers.cookie);
  if (cookie !== null) out.cookie = cookie;
  out.host = `127.0.0.1:${opts.port}`;
  out['x-forwarded-prefix'] = opts.prefix.replace(/\/$/, '');
  out['x-forwarded-proto'] = 'https';
  out['x-forwarded-host'] = opts.publicHost;
  if (opts.upgrade) {
    out.connection = 'Upgrade';
    if (headers.upgrade !== undefined) out.upgrade = headers.upgrade;
  } else out.connection = 'close';
  return out;
}

/** A `Location` on the device (`/x`, or absolute to its loopback) as the browser must follow it: under the prefix. */
export function rewriteLocation(location: string, prefix: string, port: number): string {
  if (location.startsWith('/') && !location.startsWith('//')) return `${prefix}${location.slice(1)}`;
  try {
    const url = new URL(location);
    const local = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname) && (url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port)) === port;
    if (local) return `${prefix}${url.pathname.slice(1)}${url.search}${url.hash}`;
  } catch {
    // relative (`x/y`): the browser resolves it under the prefix by itself
  }
  return location;
}

/** A device's `Set-Cookie`, confined to the relay prefix (Path rewritten, Domain dropped); null for Tether's own names. */
export function rewriteSetCookie(setCookie: string, prefix: string): string | null {
  const [pair = '', ...attributes] = setCookie.split(';');
  const name = pair.slice(0, pair.indexOf('=') < 0 ? pair.length : pair.indexOf('=')).trim();
  if (OWN_COOKIES.has(name)) return null;
  let path = '/';
  const kept: string[] = [];
  for (const attribute of attributes) {
    const [key = '', ...rest] = attribute.trim().split('=');
    const lower = key.toLowerCase();
    if (lower === 'domain') continue;
    if (lower === 'path') {
      path = rest.join('=') || '/';
      continue;
    }
    if (attribute.trim() !== '') kept.push(attribute.trim());
  }
  const scoped = `${prefix}${path.startsWith('/') ? path.slice(1) : path}`;
  return [pair.trim(), `Path=${scoped}`, ...kept].join('; ');
}

/** The device's response headers as the browser gets them, with the relay's sandbox. */
export function responseHeadersForBrowser(headers: IncomingHttpHeaders, prefix: string, port: number): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    if (name === 'location' && typeof value === 'string') out.location = rewriteLocation(value, prefix, port);
    else if (name === 'set-cookie' && Array.isArray(value)) out['set-cookie'] = value.map((c) => rewriteSetCookie(c, prefix)).filter((c): c is string => c !== null);
    else out[name] = value;
  }
  const csp = headers['content-security-policy'];
  // Two policies both apply (the device's own and the sandbox), so they go as two header lines.
  const policies: string[] = csp ? [...(Array.isArray(csp) ? csp : [csp]), RELAY_SANDBOX_CSP] : [RELAY_SANDBOX_CSP];
  const all: Record<string, OutgoingHttpHeaders[string]> = out;
  all['content-security-policy'] = policies.length === 1 ? policies[0] : policies;
  out['referrer-policy'] = 'no-referrer';
  return out;
}
