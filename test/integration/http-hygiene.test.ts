/**
 * What an outside review of a running backend checks with standard tools: the TLS suites it
 * offers, its security headers, what an anonymous caller learns from a protected route, and
 * whether names can carry terminal escapes. One real backend process.
 */
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_CSP, hasControlCharacters } from '../../protocol/index.js';
import { rawRequest, type RawResponse } from '../hardening/raw-http.js';
import { api, cleanup, login, startBackend, type Backend } from '../harness.js';

type Handshake = { ok: true; protocol: string | null; cipher: string } | { ok: false; code: string | undefined };

/** One TLS handshake with the given client options; the server's answer, not the request. */
function handshake(backend: Backend, options: { minVersion?: 'TLSv1.2' | 'TLSv1.3'; maxVersion?: 'TLSv1.2' | 'TLSv1.3'; ciphers?: string }): Promise<Handshake> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: backend.port, ca: backend.caCertPem, servername: 'localhost', checkServerIdentity: () => undefined, ...options }, () => {
      resolve({ ok: true, protocol: socket.getProtocol(), cipher: socket.getCipher().name });
      socket.end();
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, code: err.code }));
  });
}

/** `a b; c d` → a sorted list of directives, for comparing policies that differ only in spacing. */
const directives = (policy: string) => policy.split(';').map((d) => d.trim().replace(/\s+/g, ' ')).filter(Boolean).sort();
const codeOf = (res: RawResponse) => (res.json as { code?: string } | undefined)?.code;

describe('the backend as an outside review sees it', () => {
  let backend: Backend;
  let admin: string;

  beforeAll(async () => {
    backend = await startBackend();
    admin = await login(backend);
  });

  afterAll(async () => {
    await backend.stop();
    cleanup(backend.home);
  });

  it('TLS: 1.3, and on 1.2 only ECDHE with AES-GCM or ChaCha20-Poly1305 (Mozilla intermediate)', async () => {
    const tls13 = await handshake(backend, { minVersion: 'TLSv1.3' });
    expect(tls13).toMatchObject({ ok: true, protocol: 'TLSv1.3' });
    for (const cipher of ['ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-CHACHA20-POLY1305']) {
      expect(await handshake(backend, { maxVersion: 'TLSv1.2', ciphers: cipher }), cipher).toEqual({ ok: true, protocol: 'TLSv1.2', cipher });
    }
    // CBC with SHA-1, CBC with SHA-2, and RSA key exchange (no forward secrecy): the server answers with a handshake_failure alert.
    for (const cipher of ['ECDHE-RSA-AES128-SHA', 'AES128-SHA', 'ECDHE-RSA-AES128-SHA256', 'AES128-GCM-SHA256', 'AES256-GCM-SHA384', 'DHE-RSA-AES128-GCM-SHA256']) {
      expect(await handshake(backend, { maxVersion: 'TLSv1.2', ciphers: cipher }), cipher).toEqual({ ok: false, code: 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE' });
    }
  });

  it('HSTS and the console CSP on every answer; no-store on auth and token answers', async () => {
    const loginRes = await rawRequest(backend, 'POST', '/api/v1/auth/login', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: 'correct horse battery staple' }) });
    expect(loginRes.status).toBe(200);
    const me = await rawRequest(backend, 'GET', '/api/v1/auth/me', { headers: { authorization: `Bearer ${admin}` } });
    const token = await rawRequest(backend, 'POST', '/api/v1/tokens', { headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: '{}' });
    const refused = await rawRequest(backend, 'GET', '/api/v1/auth/me');
    const health = await rawRequest(backend, 'GET', '/healthz');
    expect([me.status, token.status, refused.status, health.status]).toEqual([200, 200, 401, 200]);
    for (const [what, res] of Object.entries({ loginRes, me, token, refused, health })) {
      expect(res.headers['strict-transport-security'], what).toBe('max-age=63072000');
      expect(directives(String(res.headers['content-security-policy'])), what).toEqual(directives(CONSOLE_CSP));
      expect(res.headers['x-content-type-options'], what).toBe('nosniff');
      expect(res.headers['referrer-policy'], what).toBe('no-referrer');
    }
    for (const [what, res] of Object.entries({ loginRes, me, token, refused })) expect(res.headers['cache-control'], what).toBe('no-store');
  });

  it('an anonymous request to a protected route gets 401 whatever its body: the schema stays hidden', async () => {
    const anonymous = [
      ['POST', '/api/v1/tokens', 'application/json', '{"uses":"lots","tags":{"a b":1}}'],
      ['POST', '/api/v1/users', 'application/json', '{}'],
      ['POST', '/api/v1/devices/tags', 'application/json', '{"ids":[]}'],
      ['PUT', '/api/v1/config/layers/fleet', 'application/json', '{"values":'],
      ['POST', '/api/v1/jobs', 'text/plain', 'rm -rf /'],
      ['GET', '/api/v1/devices?limit=-1', undefined, undefined],
    ] as const;
    for (const [method, path, type, body] of anonymous) {
      const headers: Record<string, string> = type ? { 'content-type': type } : {};
      const res = await rawRequest(backend, method, path, { headers, body });
      expect([res.status, codeOf(res)], `${method} ${path}: ${res.text}`).toEqual([401, 'UNAUTHORIZED']);
      const forged = await rawRequest(backend, method, path, { headers: { ...headers, authorization: 'Bearer ts_forged' }, body });
      expect([forged.status, codeOf(forged)], `${method} ${path} (forged)`).toEqual([401, 'SESSION_INVALID']);
    }
    // Signed in, the same requests are validated as before.
    const bad = await rawRequest(backend, 'POST', '/api/v1/tokens', { headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: '{"uses":"lots"}' });
    expect([bad.status, codeOf(bad)]).toEqual([400, 'BAD_REQUEST']);
    expect(bad.text).toContain('/uses');
    // Public routes validate their bodies; unknown paths stay 404.
    const loginBad = await rawRequest(backend, 'POST', '/api/v1/auth/login', { headers: { 'content-type': 'application/json' }, body: '{}' });
    expect([loginBad.status, codeOf(loginBad)]).toEqual([400, 'BAD_REQUEST']);
    const unknown = await rawRequest(backend, 'GET', '/api/v1/nothing-here');
    expect([unknown.status, codeOf(unknown)]).toEqual([404, 'NOT_FOUND']);
  });

  it('a body that is not JSON gets 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
      const res = await rawRequest(backend, 'POST', '/api/v1/tokens', { headers: { authorization: `Bearer ${admin}`, 'content-type': type }, body: '{}' });
      expect([res.status, codeOf(res)], type).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    }
    const login415 = await rawRequest(backend, 'POST', '/api/v1/auth/login', { headers: { 'content-type': 'text/plain' }, body: '{"username":"admin","password":"x"}' });
    expect([login415.status, codeOf(login415)]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
  });

  it('names, tags and user names with control characters are refused with CONTROL_CHARACTERS, naming the field', async () => {
    const refusals: Array<[string, string, unknown, string]> = [
      ['POST', '/api/v1/tokens', { tags: { site: 'lab\u001b[31m' } }, '/tags/site'],
      ['POST', '/api/v1/tokens', { tags: { 'si\u001bte': 'lab' } }, '/tags/si\\u001bte'],
      ['POST', '/api/v1/tokens', { tags: { site: 'lab\u009b2J' } }, '/tags/site'],
      ['POST', '/api/v1/tokens', { tags: { site: 'lab\u007f' } }, '/tags/site'],
      ['POST', '/api/v1/users', { username: 'eve\u001b]0;x\u0007', password: 'a long password', role: 'viewer' }, '/username'],
      ['POST', '/api/v1/users', { username: 'scoped', password: 'a long password', role: 'viewer', scope: { site: '\u0000' } }, '/scope/site'],
      ['POST', '/api/v1/devices/tags', { ids: ['dev_aaaaaaaaaaaaaaaaaaaaaaaa'], set: { site: 'a\u0008b' } }, '/set/site'],
      ['POST', '/api/v1/agent/register', { token: 'trt_x', csr: 'x'.repeat(64), name: 'robot\u001b[2J' }, '/name'],
    ];
    for (const [method, path, body, field] of refusals) {
      const res = await api(backend, method, path, { token: admin, body });
      expect([res.status, (res.body as { code?: string }).code], `${path} ${JSON.stringify(body)}`).toEqual([400, 'CONTROL_CHARACTERS']);
      const message = (res.body as { message: string }).message;
      expect(message).toContain(field);
      expect(hasControlCharacters(message), message).toBe(false);
    }
    // Ordinary non-ASCII names pass.
    expect((await api(backend, 'POST', '/api/v1/tokens', { token: admin, body: { tags: { site: 'Łódź 機' } } })).status).toBe(200);
  });
});
