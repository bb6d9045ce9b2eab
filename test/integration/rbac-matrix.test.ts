/**
 * The role policy of every API route, asserted against a real backend. The table below is the
 * policy; the first test fails when the backend has a route the table does not name, so a new
 * route cannot ship without a decision about who may call it.
 *
 * Policy: viewers read; operators also run commands, shells and jobs and edit config and alert
 * rules; admins also manage users, registration tokens, device revoke/approve, config schemas
 * and the audit log. A user scoped to some devices gets NOT_FOUND for any other device.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../protocol/index.js';
import { ADMIN_PASSWORD, api, cleanup, createToken, login, registerAgent, startBackend, tempDir, type Backend } from '../harness.js';

type Need = 'public' | 'agent' | Role;
type Caller = 'anonymous' | 'viewer' | 'operator' | 'scoped-operator' | 'admin';
const CALLERS: readonly Caller[] = ['anonymous', 'viewer', 'operator', 'scoped-operator', 'admin'];
const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

interface Ids { device: string; caller: Caller }
interface RouteCase {
  need: Need;
  /** The concrete URL; `device` is an enrolled device outside the scoped operator's scope. */
  url?: (ids: Ids) => string;
  body?: (ids: Ids) => unknown;
  /** The route names a device: a scoped user outside its scope must get NOT_FOUND. */
  device?: boolean;
  /** Ends sessions or changes the device: run after everything else, in this order. */
  late?: number;
}

const NONE = '00000000-0000-4000-8000-000000000000';
const CSR = `-----BEGIN CERTIFICATE REQUEST-----\n${'A'.repeat(64)}\n-----END CERTIFICATE REQUEST-----`;

/** Every route (as OpenAPI names it) → who may call it. */
const ROUTES: Record<string, RouteCase> = {
  'GET /': { need: 'public' },
  'POST /api/v1/auth/login': { need: 'public', body: () => ({ username: 'admin', password: ADMIN_PASSWORD }) },
  'POST /api/v1/auth/logout': { need: 'viewer', late: 1 },
  'POST /api/v1/auth/logout-all': { need: 'viewer', late: 2 },
  'GET /api/v1/auth/me': { need: 'viewer' },
  'GET /api/v1/auth/account': { need: 'viewer' },
  'POST /api/v1/auth/totp/setup': { need: 'viewer' },
  'POST /api/v1/auth/totp/enable': { need: 'viewer', body: () => ({ code: '000000' }) },
  'POST /api/v1/auth/totp/disable': { need: 'viewer', body: () => ({ code: '000000' }) },

  'GET /api/v1/users': { need: 'admin' },
  'POST /api/v1/users': { need: 'admin', body: ({ caller }) => ({ username: `made-by-${caller}`, password: 'long-enough', role: 'viewer' }) },
  'PATCH /api/v1/users/{id}': { need: 'admin', url: () => '/api/v1/users/999999', body: () => ({ role: 'viewer' }) },
  'DELETE /api/v1/users/{id}': { need: 'admin', url: () => '/api/v1/users/999999' },
  'GET /api/v1/audit': { need: 'admin' },
  'GET /api/v1/audit/export': { need: 'admin' },

  'GET /api/v1/devices': { need: 'viewer' },
  'GET /api/v1/devices/{id}': { need: 'viewer', device: true },
  'POST /api/v1/devices/{id}/revoke': { need: 'admin', device: true, late: 0 },
  'POST /api/v1/devices/{id}/approve': { need: 'admin', device: true },
  'POST /api/v1/devices/{id}/relay': { need: 'operator', device: true, body: () => ({ port: 8080 }) },
  'POST /api/v1/devices/tags': { need: 'operator', device: true, body: ({ device }) => ({ ids: [device], set: { rbac: 'checked' } }) },
  'POST /api/v1/devices/revoke': { need: 'admin', device: true, late: 0, body: ({ device }) => ({ ids: [device] }) },

  'GET /api/v1/tokens': { need: 'admin' },
  'POST /api/v1/tokens': { need: 'admin', body: () => ({ uses: 1 }) },
  'POST /api/v1/tokens/{id}/revoke': { need: 'admin', url: () => '/api/v1/tokens/tok_none/revoke' },

  'GET /api/v1/config/layers': { need: 'viewer' },
  'GET /api/v1/config/layers/{id}': { need: 'viewer', device: true, url: ({ device }) => `/api/v1/config/layers/device:${device}` },
  'PUT /api/v1/config/layers/{id}': { need: 'operator', device: true, url: ({ device }) => `/api/v1/config/layers/device:${device}`, body: () => ({ values: {}, expectedVersion: 0 }) },
  'DELETE /api/v1/config/layers/{id}': { need: 'operator', device: true, url: ({ device }) => `/api/v1/config/layers/device:${device}?expectedVersion=999` },
  'POST /api/v1/config/layers/{id}/rollback': { need: 'operator', device: true, url: ({ device }) => `/api/v1/config/layers/device:${device}/rollback`, body: () => ({ toVersion: 0, expectedVersion: 999 }) },
  'POST /api/v1/config/validate': { need: 'viewer', body: () => ({ layerId: 'fleet', values: {} }) },
  'GET /api/v1/config/history': { need: 'viewer' },
  'GET /api/v1/config/revisions/{version}': { need: 'viewer', url: () => '/api/v1/config/revisions/999999' },
  'GET /api/v1/config/diff': { need: 'viewer', url: () => '/api/v1/config/diff?target=fleet&from=0&to=0' },
  'GET /api/v1/config/schemas': { need: 'viewer' },
  'PUT /api/v1/config/schemas/{namespace}': { need: 'admin', url: () => '/api/v1/config/schemas/rbac', body: () => ({ schema: { type: 'object' }, expectedVersion: 999 }) },
  'GET /api/v1/config/status': { need: 'viewer' },
  'GET /api/v1/config/devices/{id}/effective': { need: 'viewer', device: true },

  'GET /api/v1/metrics/devices/{id}': { need: 'viewer', device: true, url: ({ device }) => `/api/v1/metrics/devices/${device}?names=cpu.total&from=0&to=1` },
  'GET /api/v1/metrics/devices/{id}/names': { need: 'viewer', device: true },
  'GET /api/v1/metrics/latest': { need: 'viewer' },
  'GET /api/v1/logs': { need: 'viewer' },
  'GET /api/v1/alerts/rules': { need: 'viewer' },
  'POST /api/v1/alerts/rules': { need: 'operator', body: () => ({ name: 'rbac', condition: { kind: 'offline' }, forMs: 60_000 }) },
  'DELETE /api/v1/alerts/rules/{id}': { need: 'operator', url: () => '/api/v1/alerts/rules/999999' },
  'GET /api/v1/alerts/events': { need: 'viewer' },
  'GET /api/v1/alerts/active': { need: 'viewer' },

  'GET /api/v1/shell/sessions': { need: 'operator' },
  'GET /api/v1/shell/sessions/{id}/recording': { need: 'operator', url: () => `/api/v1/shell/sessions/${NONE}/recording` },
  'GET /api/v1/devices/{id}/files': { need: 'operator', device: true, url: ({ device }) => `/api/v1/devices/${device}/files?path=/tmp` },
  'GET /api/v1/devices/{id}/files/upload': { need: 'operator', device: true, url: ({ device }) => `/api/v1/devices/${device}/files/upload?path=/tmp/rbac&transfer=rbac-transfer` },
  'PUT /api/v1/devices/{id}/files/content': { need: 'operator', device: true, url: ({ device }) => `/api/v1/devices/${device}/files/content?path=/tmp/rbac&transfer=rbac-transfer&size=0&sha256=${'0'.repeat(64)}` },
  'GET /api/v1/devices/{id}/files/content': { need: 'operator', device: true, url: ({ device }) => `/api/v1/devices/${device}/files/content?path=/tmp/rbac` },
  'POST /api/v1/devices/{id}/commands': { need: 'operator', device: true, body: () => ({ command: { shell: 'true' } }) },
  'GET /api/v1/devices/{id}/runs': { need: 'operator', device: true },
  'GET /api/v1/runs/{id}': { need: 'operator', url: () => `/api/v1/runs/${NONE}` },
  'POST /api/v1/runs/{id}/cancel': { need: 'operator', url: () => `/api/v1/runs/${NONE}/cancel` },
  'POST /api/v1/jobs/preview': { need: 'operator', body: () => ({ selection: { query: 'nothing-matches-this' } }) },
  'POST /api/v1/jobs': { need: 'operator', body: () => ({ command: { shell: 'true' }, selection: { query: 'nothing-matches-this' } }) },
  'GET /api/v1/jobs': { need: 'viewer' },
  'GET /api/v1/jobs/{id}': { need: 'operator', url: () => `/api/v1/jobs/${NONE}` },
  'POST /api/v1/jobs/{id}/cancel': { need: 'operator', url: () => `/api/v1/jobs/${NONE}/cancel` },

  'POST /api/v1/agent/register': { need: 'agent', body: () => ({ token: 'not-a-token', csr: CSR }) },
};

const REFUSALS = new Set(['UNAUTHORIZED', 'FORBIDDEN', 'SESSION_INVALID']);

describe('RBAC matrix', () => {
  let backend: Backend;
  let device = '';
  const sessions = new Map<Caller, string | undefined>();
  const dirs: string[] = [];

  beforeAll(async () => {
    backend = await startBackend();
    const admin = await login(backend);
    const state = tempDir('agent');
    dirs.push(state);
    const reg = await registerAgent(backend, await createToken(backend, admin, { tags: { site: 'paris' } }), state);
    expect(reg.code, reg.output).toBe(0);
    device = (JSON.parse(readFileSync(join(state, 'state.json'), 'utf8')) as { deviceId: string }).deviceId;
    const users: Array<[Caller, Role, Record<string, string> | null]> = [['viewer', 'viewer', null], ['operator', 'operator', null], ['scoped-operator', 'operator', { site: 'berlin' }]];
    for (const [caller, role, scope] of users) {
      const made = await api(backend, 'POST', '/api/v1/users', { token: admin, body: { username: caller, password: `${caller}-password`, role, scope } });
      expect(made.status, JSON.stringify(made.body)).toBe(200);
    }
    await logInAll();
  });

  async function logInAll(): Promise<void> {
    for (const caller of ['viewer', 'operator', 'scoped-operator'] as const) {
      const res = await api(backend, 'POST', '/api/v1/auth/login', { body: { username: caller, password: `${caller}-password` } });
      sessions.set(caller, (res.body as { token: string }).token);
    }
    sessions.set('admin', await login(backend));
    sessions.set('anonymous', undefined);
  }

  afterAll(async () => {
    await backend.stop();
    cleanup(backend.home, ...dirs);
  });

  it('names every route the backend serves (and no route it does not)', async () => {
    const spec = (await api(backend, 'GET', '/api/v1/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    const served = Object.entries(spec.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));
    expect(served.filter((r) => !(r in ROUTES)), 'routes missing from the RBAC table').toEqual([]);
    // `GET /` is the console's fallback; once the console is built, @fastify/static serves it unlisted.
    expect(Object.keys(ROUTES).filter((r) => !served.includes(r) && r !== 'GET /'), 'table entries the backend does not serve').toEqual([]);
  });

  it('allows or refuses each route for each caller with the exact code', async () => {
    const order = Object.entries(ROUTES).sort(([, a], [, b]) => (a.late ?? -1) - (b.late ?? -1));
    const failures: string[] = [];
    for (const [route, rule] of order) {
      const [method = 'GET', template = '/'] = route.split(' ');
      // Each session-ending route gets fresh sessions, so the previous one's logouts do not count.
      if ((rule.late ?? 0) >= 1) await logInAll();
      for (const caller of CALLERS) {
        const ids = { device, caller };
        const url = rule.url?.(ids) ?? template.replace('{id}', device);
        const res = await api(backend, method, url, { token: sessions.get(caller), body: rule.body?.(ids) });
        const code = (res.body as { code?: string } | undefined)?.code;
        const expected = expectation(rule, caller);
        const ok = expected === 'allowed' ? res.status !== 401 && res.status !== 403 && !REFUSALS.has(code ?? '') : code === expected && res.status === STATUS[expected];
        if (!ok) failures.push(`${route} as ${caller}: expected ${expected}, got ${res.status} ${JSON.stringify(res.body).slice(0, 120)}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('applies the same policy to the console, shell and forward sockets', async () => {
    const upgrade = (path: string, caller: Caller) =>
      new Promise<number>((done) => {
        const token = sessions.get(caller);
        const ws = new WebSocket(new URL(path, backend.url.replace('https:', 'wss:')).href, {
          ca: backend.caCertPem, headers: { origin: backend.url, ...(token ? { authorization: `Bearer ${token}` } : {}) },
        });
        ws.on('unexpected-response', (_req, res) => done(res.statusCode ?? 0));
        ws.on('open', () => { ws.close(); done(101); });
        ws.on('error', () => undefined);
      });
    // Sessions ended in the late routes above.
    await logInAll();
    const shell = `/api/v1/shell?deviceId=${device}&cols=80&rows=24`;
    expect(await Promise.all(CALLERS.map((c) => upgrade('/api/v1/console', c)))).toEqual([401, 101, 101, 101, 101]);
    // Allowed shells find the device offline (503); the scoped operator must not learn that it exists.
    expect(await Promise.all(CALLERS.map((c) => upgrade(shell, c)))).toEqual([401, 403, 503, 404, 503]);
    expect(await Promise.all(CALLERS.map((c) => upgrade(`/api/v1/forward?deviceId=${device}&port=80`, c)))).toEqual([401, 403, 503, 404, 503]);
  });
});

const STATUS: Record<string, number> = { UNAUTHORIZED: 401, FORBIDDEN: 403, NOT_FOUND: 404, TOKEN_INVALID: 401 };

/** Agent routes ignore user sessions: their own credential (a bogus registration token here) decides, for every caller alike. */
function expectation(rule: RouteCase, caller: Caller): 'allowed' | 'UNAUTHORIZED' | 'FORBIDDEN' | 'NOT_FOUND' | 'TOKEN_INVALID' {
  if (rule.need === 'agent') return 'TOKEN_INVALID';
  if (rule.need === 'public') return 'allowed';
  if (caller === 'anonymous') return 'UNAUTHORIZED';
  const role: Role = caller === 'scoped-operator' ? 'operator' : caller;
  if (RANK[role] < RANK[rule.need]) return 'FORBIDDEN';
  if (caller === 'scoped-operator' && rule.device) return 'NOT_FOUND';
  return 'allowed';
}
