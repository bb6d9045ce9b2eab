import { readFile, realpath } from 'node:fs/promises';
import { extname, isAbsolute, relative, resolve, sep } from 'node:path';

/**
 * The console bundle is served from `app://tether/…` rather than `file://`: a file:// page
 * could read any file its links name and has an opaque origin, while a privileged standard
 * scheme gives the page a real origin for the CSP and the IPC sender check, and lets this
 * module decide what each request may return.
 */
export const APP_SCHEME = 'app';
export const APP_HOST = 'tether';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_INDEX_URL = `${APP_ORIGIN}/index.html`;

/** For `protocol.registerSchemesAsPrivileged`, before the app is ready. */
export const APP_SCHEME_PRIVILEGES = {
  scheme: APP_SCHEME,
  privileges: { standard: true, secure: true, supportFetchAPI: true, corsEnabled: true, stream: true },
} as const;

export type BundlePath = { ok: true; path: string } | { ok: false; status: 400 | 404 };

/**
 * The file inside `bundleDir` that `requestUrl` names, or why there is none. Refuses other
 * hosts, `..` in any spelling (the URL parser folds `..` and `%2e%2e`; an encoded `%2f` or `\`
 * inside a segment could smuggle one past it, so such segments are refused), NUL bytes and
 * anything that resolves outside the directory. Symbolic links are checked when the file is
 * opened ({@link readBundleFile}), since only the file system knows them.
 */
export function resolveBundlePath(requestUrl: string, bundleDir: string): BundlePath {
  let url: URL;
  try {
    url = new URL(requestUrl);
  } catch {
    return { ok: false, status: 400 };
  }
  if (url.protocol !== `${APP_SCHEME}:` || url.host !== APP_HOST) return { ok: false, status: 404 };
  const segments: string[] = [];
  for (const raw of url.pathname.split('/')) {
    if (raw === '') continue;
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return { ok: false, status: 400 };
    }
    if (segment === '.' || segment === '..' || /[/\\\0:]/.test(segment)) return { ok: false, status: 400 };
    segments.push(segment);
  }
  if (segments.length === 0) segments.push('index.html');
  const root = resolve(bundleDir);
  const path = resolve(root, ...segments);
  const inside = relative(root, path);
  if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) return { ok: false, status: 400 };
  return { ok: true, path };
}

/**
 * The file's bytes, or null when it is missing, a directory, or a symbolic link (anywhere on
 * its path) that leads outside the bundle.
 */
export async function readBundleFile(path: string, bundleDir: string): Promise<Buffer | null> {
  try {
    const [realRoot, realFile] = await Promise.all([realpath(bundleDir), realpath(path)]);
    if (!realFile.startsWith(realRoot + sep)) return null;
    return await readFile(realFile);
  } catch {
    return null;
  }
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
  '.map': 'application/json',
};

export function contentTypeOf(path: string): string {
  return CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

const CSP_META = /<meta\s+http-equiv=(["'])Content-Security-Policy\1\s+content=(?:"[^"]*"|'[^']*')\s*\/?>/i;

/**
 * The built index.html carries the web console's policy in a <meta> tag (connect-src 'self').
 * Both a header and a meta policy apply, so the desktop's policy, which also allows the
 * backend's WebSocket origin, replaces it.
 */
export function withDesktopCspMeta(html: string, metaCsp: string): string {
  const tag = `<meta http-equiv="Content-Security-Policy" content="${metaCsp.replace(/"/g, '&quot;')}">`;
  return CSP_META.test(html) ? html.replace(CSP_META, tag) : html.replace(/<head>/i, `<head>${tag}`);
}

export interface AppProtocolDeps {
  bundleDir: string;
  /** The header and <meta> policies for the active backend, asked per request (profiles change). */
  csp: () => { header: string; meta: string };
  /** `/api/…` requests go to the active backend through the main process. */
  proxy: (request: Request, url: URL) => Promise<Response>;
}

/** The `protocol.handle('app', …)` handler: bundle files with the CSP on every answer, the API proxied. */
export function createAppProtocolHandler(deps: AppProtocolDeps): (request: Request) => Promise<Response> {
  return async (request) => {
    const { header, meta } = deps.csp();
    const securityHeaders = { 'Content-Security-Policy': header, 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-cache' };
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return new Response('Bad request', { status: 400, headers: securityHeaders });
    }
    if (url.host === APP_HOST && (url.pathname === '/api' || url.pathname.startsWith('/api/'))) {
      const answer = await deps.proxy(request, url);
      const headers = new Headers(answer.headers);
      for (const [name, value] of Object.entries(securityHeaders)) headers.set(name, value);
      return new Response(answer.body, { status: answer.status, headers });
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') return new Response('Method not allowed', { status: 405, headers: securityHeaders });
    const resolved = resolveBundlePath(request.url, deps.bundleDir);
    if (!resolved.ok) return new Response(resolved.status === 400 ? 'Bad request' : 'Not found', { status: resolved.status, headers: securityHeaders });
    const bytes = await readBundleFile(resolved.path, deps.bundleDir);
    if (bytes === null) return new Response('Not found', { status: 404, headers: securityHeaders });
    const contentType = contentTypeOf(resolved.path);
    const body = contentType.startsWith('text/html') ? withDesktopCspMeta(bytes.toString('utf8'), meta) : new Uint8Array(bytes);
    return new Response(request.method === 'HEAD' ? null : body, { status: 200, headers: { ...securityHeaders, 'Content-Type': contentType } });
  };
}
