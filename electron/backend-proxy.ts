import { ERRORS, LoginResponse, type BackendProfile, type ErrorCode } from '../protocol/index.js';
import type { TokenStore } from './token-store.js';

/**
 * The console's REST calls in the desktop app: the page asks its own origin
 * (`app://tether/api/v1/…`, so it keeps its relative URLs and needs no CORS), and this forwards
 * to the active backend over the session whose certificate check pins the CA, adding the
 * profile's session token. The token is taken from the login answer and dropped on logout or
 * a 401, so the page never has to hold it: it only ever sees the login answer once.
 */
export interface BackendProxyDeps {
  activeProfile: () => BackendProfile | null;
  tokens: TokenStore;
  /** Electron's `net.fetch` (the pinned session) in the app; a test server's fetch in tests. */
  fetch: (url: string, init: RequestInit) => Promise<Response>;
  timeoutMs?: number;
  maxRequestBytes?: number;
}

/** Headers the page may pass on; cookies, Origin and Authorization are the proxy's business. */
const FORWARDED_REQUEST_HEADERS = ['accept', 'content-type', 'range'];
const FORWARDED_RESPONSE_HEADERS = ['content-type', 'content-length', 'content-disposition', 'content-range', 'accept-ranges', 'retry-after'];

export function createBackendProxy(deps: BackendProxyDeps): (request: Request, url: URL) => Promise<Response> {
  const timeoutMs = deps.timeoutMs ?? 30_000;
  const maxRequestBytes = deps.maxRequestBytes ?? 1_048_576;
  return async (request, url) => {
    const profile = deps.activeProfile();
    if (profile === null) return errorResponse('NO_ACTIVE_PROFILE');
    const headers = new Headers();
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const value = request.headers.get(name);
      if (value !== null) headers.set(name, value);
    }
    const token = deps.tokens.get(profile.id);
    if (token !== null) headers.set('authorization', `Bearer ${token}`);
    let body: ArrayBuffer | undefined;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      body = await request.arrayBuffer();
      if (body.byteLength > maxRequestBytes) return errorResponse('PAYLOAD_TOO_LARGE');
    }
    let answer: Response;
    try {
      answer = await deps.fetch(`${profile.url}${url.pathname}${url.search}`, {
        method: request.method,
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch {
      // A refused certificate looks the same from here as a backend that is down.
      return errorResponse('BACKEND_UNREACHABLE', `Cannot reach ${profile.name} (${profile.url}), or its certificate does not match the pinned CA`);
    }
    // A manual redirect surfaces as an opaque answer with status 0 in Chromium's fetch; the
    // backend never redirects its API, and `new Response` refuses such a status anyway.
    if (answer.status < 200 || answer.status > 599) return errorResponse('BACKEND_UNREACHABLE', `${profile.url} answered ${url.pathname} with an unexpected redirect or status`);
    const bytes = await answer.arrayBuffer();
    if (url.pathname === '/api/v1/auth/login' && answer.ok) {
      const login = LoginResponse.safeParse(parseJson(bytes));
      if (login.success) deps.tokens.set(profile.id, login.data.token);
    } else if (url.pathname === '/api/v1/auth/logout' || answer.status === 401) {
      deps.tokens.clear(profile.id);
    }
    const responseHeaders = new Headers();
    for (const name of FORWARDED_RESPONSE_HEADERS) {
      const value = answer.headers.get(name);
      if (value !== null) responseHeaders.set(name, value);
    }
    return new Response(answer.status === 204 || answer.status === 304 ? null : bytes, { status: answer.status, headers: responseHeaders });
  };
}

function parseJson(bytes: ArrayBuffer): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as unknown;
  } catch {
    return undefined;
  }
}

function errorResponse(code: ErrorCode, message: string = ERRORS[code].message): Response {
  return new Response(JSON.stringify({ code, message }), { status: ERRORS[code].http, headers: { 'content-type': 'application/json' } });
}

/**
 * Headers for the page's WebSockets to the backend (`session.webRequest.onBeforeSendHeaders`),
 * which cannot go through the app:// proxy: the token is added here, so the page never holds it,
 * and the app:// Origin, which the backend's cross-site check does not know, becomes the
 * backend's own. Only for requests to the active backend; others are left as they are.
 */
export function backendSocketHeaders(
  requestUrl: string,
  headers: Readonly<Record<string, string>>,
  profile: BackendProfile | null,
  token: string | null,
): Record<string, string> {
  if (profile === null) return { ...headers };
  let target: URL;
  try {
    target = new URL(requestUrl);
  } catch {
    return { ...headers };
  }
  const backend = new URL(profile.url);
  if (target.protocol !== 'wss:' || target.host !== backend.host) return { ...headers };
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (lower === 'origin' || lower === 'authorization' || lower === 'cookie') continue;
    result[name] = value;
  }
  result.Origin = backend.origin;
  if (token !== null) result.Authorization = `Bearer ${token}`;
  return result;
}
