/**
 * The desktop app's path to a real backend, minus Electron: the app:// API proxy over a
 * connection checked the way the app's certificate verify proc checks it (the pinned CA, the
 * backend's real chain), and the console WebSocket opened with the headers the app's
 * onBeforeSendHeaders hook gives it. What this cannot show is that Electron calls those hooks;
 * the Electron e2e project does, where a binary is installed.
 */
import { X509Certificate } from 'node:crypto';
import { request } from 'node:https';
import { connect, type DetailedPeerCertificate } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { BackendProfile } from '../../protocol/index.js';
import { backendSocketHeaders, createBackendProxy } from '../../electron/backend-proxy.js';
import { CERT_VERIFY_ACCEPT, verifyBackendCertificate, type CertificateLike } from '../../electron/pinned-certificate.js';
import type { TokenStore } from '../../electron/token-store.js';
import { ADMIN_PASSWORD, cleanup, startBackend, type Backend } from '../harness.js';

let backend: Backend;
let profile: BackendProfile;

beforeAll(async () => {
  backend = await startBackend();
  profile = { id: 'prof_aaaaaaaa', name: 'Test', url: new URL(backend.url).origin, caPin: backend.caPin };
});
afterAll(async () => {
  await backend?.stop();
  if (backend) cleanup(backend.home);
});

/** Electron hands the verify proc the chain as PEM linked through `issuerCert`. */
function chainOf(cert: DetailedPeerCertificate): CertificateLike {
  const pems: string[] = [];
  let current: DetailedPeerCertificate | undefined = cert;
  while (current?.raw !== undefined && pems.length < 8) {
    pems.push(new X509Certificate(current.raw).toString());
    if (current.issuerCertificate === current) break;
    current = current.issuerCertificate;
  }
  return pems.reduceRight<CertificateLike | undefined>((issuerCert, data) => ({ data, issuerCert }), undefined) ?? { data: '' };
}

/** A fetch that trusts no CA and accepts the server only when verifyBackendCertificate does, like net.fetch in the app's session. */
function pinnedFetch(pinnedProfile: BackendProfile) {
  return async (url: string, init: RequestInit): Promise<Response> => {
    const target = new URL(url);
    const socket = connect({ host: target.hostname, port: Number(target.port), rejectUnauthorized: false });
    await new Promise<void>((ok, fail) => {
      socket.once('secureConnect', () => ok());
      socket.once('error', fail);
    });
    const verdict = verifyBackendCertificate({ hostname: target.hostname, certificate: chainOf(socket.getPeerCertificate(true)) }, pinnedProfile);
    if (verdict !== CERT_VERIFY_ACCEPT) {
      socket.destroy();
      throw new TypeError('net::ERR_CERT_AUTHORITY_INVALID');
    }
    const body = init.body === undefined || init.body === null ? undefined : Buffer.from(init.body as ArrayBuffer);
    return new Promise((resolve, reject) => {
      const req = request(target, { method: init.method, headers: Object.fromEntries(new Headers(init.headers)), createConnection: () => socket }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const headers = new Headers();
          for (const [name, value] of Object.entries(res.headers)) if (typeof value === 'string') headers.set(name, value);
          const status = res.statusCode ?? 500;
          resolve(new Response(status === 204 ? null : Buffer.concat(chunks), { status, headers }));
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  };
}

function memoryTokens(): TokenStore {
  const tokens = new Map<string, string>();
  return { get: (id) => tokens.get(id) ?? null, set: (id, t) => void tokens.set(id, t), clear: (id) => void tokens.delete(id), storage: () => 'memory' };
}

const call = (proxy: ReturnType<typeof createBackendProxy>, method: string, path: string, body?: unknown) => {
  const req = new Request(`app://tether${path}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return proxy(req, new URL(req.url));
};

function openSocket(headers: Record<string, string>): Promise<{ firstMessage: string } | { closeCode: number } | { status: number }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${profile.url.replace('https:', 'wss:')}/api/v1/console`, { headers, ca: backend.caCertPem });
    ws.once('message', (data) => {
      resolve({ firstMessage: String(data) });
      ws.close();
    });
    ws.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0 }));
    ws.once('close', (code) => resolve({ closeCode: code }));
    ws.once('error', () => undefined);
  });
}

describe('the desktop app against a real backend', () => {
  it('logs in through the proxy, keeps the token out of the page, and uses it for the API and the console socket', async () => {
    const tokens = memoryTokens();
    const proxy = createBackendProxy({ activeProfile: () => profile, tokens, fetch: pinnedFetch(profile) });
    expect((await call(proxy, 'GET', '/api/v1/auth/me')).status).toBe(401);
    const login = await call(proxy, 'POST', '/api/v1/auth/login', { username: 'admin', password: ADMIN_PASSWORD });
    expect(login.status).toBe(200);
    expect(login.headers.get('set-cookie')).toBeNull();
    const token = tokens.get(profile.id);
    expect(token).toEqual(expect.any(String));
    expect((await call(proxy, 'GET', '/api/v1/auth/me')).status).toBe(200);
    expect((await call(proxy, 'GET', '/api/v1/devices')).status).toBe(200);

    // The page's socket as the app sends it: app:// Origin and no credentials, then the hook's headers.
    const pageHeaders = { Origin: 'app://tether' };
    const refused = await openSocket(pageHeaders);
    expect(refused).not.toHaveProperty('firstMessage');
    const socketUrl = `${profile.url.replace('https:', 'wss:')}/api/v1/console`;
    const accepted = await openSocket(backendSocketHeaders(socketUrl, pageHeaders, profile, token));
    expect(accepted).toHaveProperty('firstMessage');
    expect(JSON.parse((accepted as { firstMessage: string }).firstMessage)).toMatchObject({ type: 'ready' });

    expect((await call(proxy, 'POST', '/api/v1/auth/logout')).status).toBeLessThan(300);
    expect(tokens.get(profile.id)).toBeNull();
    expect((await call(proxy, 'GET', '/api/v1/auth/me')).status).toBe(401);
  });

  it('refuses the backend when the pin is another CA: BACKEND_UNREACHABLE, and the password never leaves', async () => {
    const wrong = { ...profile, caPin: `sha256:${'0'.repeat(64)}` };
    const proxy = createBackendProxy({ activeProfile: () => wrong, tokens: memoryTokens(), fetch: pinnedFetch(wrong) });
    const login = await call(proxy, 'POST', '/api/v1/auth/login', { username: 'admin', password: ADMIN_PASSWORD });
    expect(login.status).toBe(503);
    expect(((await login.json()) as { code: string }).code).toBe('BACKEND_UNREACHABLE');
  });
});
