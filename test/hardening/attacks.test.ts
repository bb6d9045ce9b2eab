/**
 * Attacks against a real backend process, each answered with a stable code, while a bystander
 * agent (a real agent process) stays connected the whole time (ARCHITECTURE §8: one bad
 * device or user never affects another).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ClientHandshake } from '../../channel/handshake.js';
import { SecureSession } from '../../channel/secure-session.js';
import { ERRORS, isErrorCode, type ControlMessage, type ErrorCode, type Run } from '../../protocol/index.js';
import { ADMIN_PASSWORD, api, cleanup, deviceOf, enrolAndRun, login, openConsole, ROOT, startBackend, tempDir, waitFor, type Backend, type Proc } from '../harness.js';
import { enrolIdentity, handshake, openRaw, type Identity } from '../integration/rogue-device.js';
import { openTls, rawRequest, type RawResponse } from './raw-http.js';

const closedWith = (code: ErrorCode) => ({ code: ERRORS[code].close, reason: code });
const codeOf = (res: RawResponse): unknown => (res.json as { code?: unknown } | undefined)?.code;

/** A rogue device's control channel driven by the real SecureSession, so it can send any stream id or event. */
async function rogueSession(backend: Backend, id: Identity, options: { rekeyAfterFrames?: number } = {}) {
  const channel = await handshake(backend, id.deviceId, id.certPem, id.keyPem);
  if (!channel.established) throw new Error('handshake refused');
  const messages: ControlMessage[] = [];
  const session = new SecureSession({
    role: 'client', established: channel.established, rekeyAfterFrames: options.rekeyAfterFrames,
    transport: { send: (f) => channel.ws.send(f), close: (c, r) => channel.ws.close(c, r) },
    onMessage: (m) => messages.push(m), onClose: () => undefined,
  });
  channel.ws.on('message', (data, isBinary) => {
    if (isBinary) session.receive(Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer));
  });
  await waitFor(() => messages.some((m) => m.type === 'welcome'), 10_000, 'welcome');
  return { ...channel, session, messages };
}

describe('attacks on a real backend, with a bystander agent connected throughout', () => {
  let backend: Backend;
  let admin: string;
  let viewer: string;
  let bystander: { proc: Proc; stateDir: string; deviceId: string };
  let a: Identity;
  let b: Identity;
  const consoleRoot = tempDir('console');
  const consoleDir = join(consoleRoot, 'dist');

  beforeAll(async () => {
    mkdirSync(join(consoleDir, 'assets'), { recursive: true });
    writeFileSync(join(consoleDir, 'index.html'), '<!doctype html><title>console</title>');
    writeFileSync(join(consoleDir, 'assets', 'app.js'), 'console.log(1)');
    writeFileSync(join(consoleRoot, 'secret.txt'), 'TOP-SECRET-OUTSIDE-THE-CONSOLE');
    backend = await startBackend({ env: { TETHER_CONSOLE_DIR: consoleDir } });
    admin = await login(backend);
    bystander = await enrolAndRun(backend, admin, 'bystander');
    [a, b] = await Promise.all([enrolIdentity(backend, admin), enrolIdentity(backend, admin)]);
    const add = spawn(process.execPath, [join(ROOT, 'bin', 'tether-backend.js'), 'user', 'add', '--home', backend.home, '--username', 'viewer', '--role', 'viewer'], { stdio: ['pipe', 'ignore', 'inherit'] });
    add.stdin.end('viewer password 123');
    await new Promise((r) => add.on('exit', r));
    viewer = (await api(backend, 'POST', '/api/v1/auth/login', { body: { username: 'viewer', password: 'viewer password 123' } }).then((r) => r.body as { token: string })).token;
  });

  afterAll(async () => {
    expect(bystander.proc.count((e) => e.msg === 'connected')).toBe(1);
    expect(bystander.proc.count((e) => e.msg === 'control channel closed; reconnecting')).toBe(0);
    const console = await openConsole(backend, admin);
    expect(await console.request(bystander.deviceId, 'system.echo', { payload: 'still here' })).toMatchObject({ ok: true });
    console.close();
    expect((await deviceOf(backend, admin, bystander.deviceId))?.online).toBe(true);
    expect(backend.proc.child.exitCode).toBe(null);
    await bystander.proc.stop();
    await backend.stop();
    cleanup(backend.home, bystander.stateDir, consoleRoot);
  });

  // ── device identity ──

  it('a device presenting another device\'s id (cert of A, claims B) → CERT_SUBJECT_MISMATCH', async ({ annotate }) => {
    const channel = await handshake(backend, b.deviceId, a.certPem, a.keyPem);
    expect(await channel.closed).toEqual(closedWith('CERT_SUBJECT_MISMATCH'));
    void annotate('closed 4435 CERT_SUBJECT_MISMATCH');
  });

  it('a replayed handshake (captured hello + client_auth sent again) → BAD_SIGNATURE', async ({ annotate }) => {
    // Capture an honest handshake's messages.
    const honest = await openRaw(backend);
    const client = new ClientHandshake({ deviceId: a.deviceId, deviceCertPem: a.certPem, deviceKeyPem: a.keyPem, caCertPem: backend.caCertPem, caPin: backend.caPin });
    const hello = client.hello();
    honest.ws.send(JSON.stringify(hello));
    const { auth } = client.onServerHello(JSON.parse(await honest.nextText()) as unknown);
    honest.ws.send(JSON.stringify(auth));
    honest.ws.close();
    // Replay them on a new connection: the backend's fresh ephemeral key and nonce change the transcript.
    const replay = await openRaw(backend);
    replay.ws.send(JSON.stringify(hello));
    await replay.nextText();
    replay.ws.send(JSON.stringify(auth));
    expect(await replay.closed).toEqual(closedWith('BAD_SIGNATURE'));
    void annotate('closed 4433 BAD_SIGNATURE');
  });

  it('one device injecting into another device\'s command stream: ignored, the victim\'s run is untouched', async ({ annotate }) => {
    const started = await api(backend, 'POST', `/api/v1/devices/${bystander.deviceId}/commands`, { token: admin, body: { command: { shell: 'sleep 1.5; echo real-output' } } });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    const runId = (started.body as Run).id;
    const rogue = await rogueSession(backend, b);
    // Stream ids are per channel; try every small id with bytes and with forged exit events.
    for (let id = 0; id < 64; id++) {
      rogue.session.sendStream(id, Buffer.from(`INJECTED-${id}\n`));
      rogue.session.send({ type: 'evt', name: 'command.exit', data: { stdoutStreamId: id, outcome: 'exited', exitCode: 99, signal: null, truncated: false } });
      rogue.session.send({ type: 'evt', name: 'shell.exit', data: { streamId: id, code: 0 } });
    }
    await waitFor(async () => (await api(backend, 'GET', `/api/v1/runs/${runId}`, { token: admin })).body !== undefined && ((await api(backend, 'GET', `/api/v1/runs/${runId}`, { token: admin })).body as Run).state !== 'running', 20_000, 'the run to end');
    const run = (await api(backend, 'GET', `/api/v1/runs/${runId}`, { token: admin })).body as Run;
    expect(run).toMatchObject({ state: 'succeeded', exitCode: 0, stdout: 'real-output\n' });
    rogue.ws.close();
    void annotate(`victim run ${run.state}, stdout intact; rogue frames ignored on its own channel`);
  });

  it('a client rekeying in a loop → RATE_LIMITED_CHANNEL', async ({ annotate }) => {
    const rogue = await rogueSession(backend, a, { rekeyAfterFrames: 1 });
    for (let i = 0; i < 40 && rogue.ws.readyState === WebSocket.OPEN; i++) {
      rogue.session.send({ type: 'evt', name: 'noise', data: i });
      await sleep(30);
    }
    expect(await rogue.closed).toEqual(closedWith('RATE_LIMITED_CHANNEL'));
    void annotate('closed 4448 RATE_LIMITED_CHANNEL after 10 rekeys/min');
  });

  // ── console sessions ──

  it('session cookie: HttpOnly, Secure, SameSite=Strict', async ({ annotate }) => {
    const res = await rawRequest(backend, 'POST', '/api/v1/auth/login', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }) });
    const cookie = String(res.headers['set-cookie']);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/Secure/);
    expect(cookie).toMatch(/SameSite=Strict/);
    void annotate('HttpOnly; Secure; SameSite=Strict');
  });

  it('CSRF: a state-changing request with the cookie from a foreign Origin → ORIGIN_REFUSED, nothing created', async ({ annotate }) => {
    const cookie = `tether_session=${admin}`;
    const tokensBefore = ((await api(backend, 'GET', '/api/v1/tokens', { token: admin })).body as { tokens: unknown[] }).tokens.length;
    const foreign = await rawRequest(backend, 'POST', '/api/v1/tokens', { headers: { cookie, origin: 'https://evil.example', 'content-type': 'application/json' }, body: '{}' });
    expect([foreign.status, codeOf(foreign)]).toEqual([403, 'ORIGIN_REFUSED']);
    const crossSite = await rawRequest(backend, 'POST', '/api/v1/tokens', { headers: { cookie, 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' }, body: '{}' });
    expect([crossSite.status, codeOf(crossSite)]).toEqual([403, 'ORIGIN_REFUSED']);
    const nullOrigin = await rawRequest(backend, 'POST', `/api/v1/devices/${a.deviceId}/revoke`, { headers: { cookie, origin: 'null', 'content-type': 'application/x-www-form-urlencoded' } });
    expect([nullOrigin.status, codeOf(nullOrigin)]).toEqual([403, 'ORIGIN_REFUSED']);
    // A form post (the only cross-site POST without CORS) cannot carry JSON.
    const form = await rawRequest(backend, 'POST', '/api/v1/tokens', { headers: { cookie, origin: `https://127.0.0.1:${backend.port}`, 'content-type': 'text/plain' }, body: '{}' });
    expect([form.status, codeOf(form)]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    expect(((await api(backend, 'GET', '/api/v1/tokens', { token: admin })).body as { tokens: unknown[] }).tokens.length).toBe(tokensBefore);
    expect((await deviceOf(backend, admin, a.deviceId))?.status).toBe('active');
    // Same origin with the cookie works (the console's own requests).
    const own = await rawRequest(backend, 'POST', '/api/v1/tokens', { headers: { cookie, origin: `https://127.0.0.1:${backend.port}`, 'content-type': 'application/json' }, body: '{}' });
    expect(own.status).toBe(200);
    void annotate('403 ORIGIN_REFUSED (Origin / Sec-Fetch-Site / null); text/plain → 415 UNSUPPORTED_MEDIA_TYPE');
  });

  it('session fixation: a cookie value chosen by an attacker is never adopted; login issues a fresh token', async ({ annotate }) => {
    const planted = `fixated-${randomBytes(16).toString('hex')}`;
    const me = await rawRequest(backend, 'GET', '/api/v1/auth/me', { headers: { cookie: `tether_session=${planted}` } });
    expect(me.status).toBe(401);
    const res = await rawRequest(backend, 'POST', '/api/v1/auth/login', { headers: { cookie: `tether_session=${planted}`, 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }) });
    const issued = (res.json as { token: string }).token;
    expect(issued).not.toBe(planted);
    expect(String(res.headers['set-cookie'])).toContain(`tether_session=${issued}`);
    expect((await rawRequest(backend, 'GET', '/api/v1/auth/me', { headers: { cookie: `tether_session=${planted}` } })).status).toBe(401);
    // Two logins never share a token, and logout ends the session for good.
    const second = await login(backend);
    expect(second).not.toBe(issued);
    await api(backend, 'POST', '/api/v1/auth/logout', { token: second });
    expect((await api(backend, 'GET', '/api/v1/auth/me', { token: second })).body).toMatchObject({ code: 'SESSION_INVALID' });
    void annotate(`planted cookie → 401 ${String(codeOf(me))}; login issues a fresh token`);
  });

  it('console and shell WebSockets check Origin (cross-site WebSocket hijacking) → ORIGIN_REFUSED', async ({ annotate }) => {
    const attempt = (path: string, origin: string) => new Promise<{ status: number; body: string } | 'open'>((resolve) => {
      const ws = new WebSocket(`wss://127.0.0.1:${backend.port}${path}`, { ca: backend.caCertPem, headers: { cookie: `tether_session=${admin}`, origin } });
      ws.on('open', () => {
        ws.close();
        resolve('open');
      });
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      ws.on('error', () => undefined);
    });
    for (const origin of ['https://evil.example', 'null', `https://127.0.0.1:${backend.port}.evil.example`, `http://127.0.0.1:${backend.port}`]) {
      const console = await attempt('/api/v1/console', origin);
      expect(console, origin).toMatchObject({ status: 403, body: expect.stringContaining('ORIGIN_REFUSED') });
      const shell = await attempt(`/api/v1/shell?deviceId=${bystander.deviceId}&cols=80&rows=24`, origin);
      expect(shell, origin).toMatchObject({ status: 403, body: expect.stringContaining('ORIGIN_REFUSED') });
    }
    expect(await attempt('/api/v1/console', `https://127.0.0.1:${backend.port}`)).toBe('open');
    void annotate('403 ORIGIN_REFUSED for 4 foreign origins on /console and /shell; own origin opens');
  });

  // ── files ──

  it('path traversal on every route that serves files → 4xx with a code, nothing outside served', async ({ annotate }) => {
    const tricks = [
      '/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/%2e%2e%2fsecret.txt', '/..\\secret.txt', '/%2e%2e%5csecret.txt',
      '/assets/../../secret.txt', '/assets/%2e%2e/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt', '/%252e%252e/secret.txt',
      '/../../../../../../etc/passwd', '/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/index.html%00.js', '/assets/app.js%00/../../secret.txt',
      '/install.sh/../../etc/passwd', '/install.sh%2f..%2f..%2fetc%2fpasswd', '/ca.crt/..%2f..%2fpki%2fca.key', '/ca.crt%00',
      '/agent/..%2f..%2fetc%2fpasswd', '/agent/%2e%2e/%2e%2e/etc/passwd', '/agent/tether-agent.tar.gz%00.txt',
      '/api/v1/shell/sessions/..%2f..%2f..%2fetc%2fpasswd/recording', '/api/v1/shell/sessions/%2e%2e/recording',
    ];
    const statuses = new Map<number, number>();
    for (const path of tricks) {
      const res = await rawRequest(backend, 'GET', path, { headers: { authorization: `Bearer ${admin}` } });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      expect(res.text, path).not.toContain('TOP-SECRET');
      expect(res.text, path).not.toContain('root:x:0:0');
      expect(res.text, path).not.toContain('PRIVATE KEY');
      expect(res.status, path).toBeGreaterThanOrEqual(400);
      expect(res.status, path).toBeLessThan(500);
      expect(isErrorCode(codeOf(res)), `${path}: ${res.text.slice(0, 200)}`).toBe(true);
    }
    // The legitimate files are still served.
    expect((await rawRequest(backend, 'GET', '/assets/app.js')).text).toBe('console.log(1)');
    expect((await rawRequest(backend, 'GET', '/ca.crt')).text).toContain('BEGIN CERTIFICATE');
    void annotate(`${tricks.length} tricks: ${[...statuses].map(([s, n]) => `${n}×${s}`).join(', ')}, all coded`);
  });

  // ── request bodies ──

  it('an oversized JSON body → 413 PAYLOAD_TOO_LARGE (with and without Content-Length)', async ({ annotate }) => {
    const big = JSON.stringify({ username: 'admin', password: 'x'.repeat(400 * 1024) });
    const sized = await rawRequest(backend, 'POST', '/api/v1/auth/login', { headers: { 'content-type': 'application/json' }, body: big });
    expect([sized.status, codeOf(sized)]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    const chunked = await rawRequest(backend, 'POST', '/api/v1/agent/register', { headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, body: big });
    expect([chunked.status, codeOf(chunked)]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    void annotate('413 PAYLOAD_TOO_LARGE');
  });

  it('deeply nested JSON (100,000 levels) → 400 BAD_REQUEST, the process stays up', async ({ annotate }) => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const deepObject = `${'{"a":'.repeat(40_000)}1${'}'.repeat(40_000)}`;
    const results: string[] = [];
    for (const [path, body] of [
      ['/api/v1/auth/login', `{"username":"admin","password":"x","extra":${deep}}`],
      ['/api/v1/config/validate', `{"layerId":"fleet","values":{"x":${deep}}}`],
      ['/api/v1/config/validate', `{"layerId":"fleet","values":${deepObject}}`],
      ['/api/v1/config/layers/fleet', `{"values":{"x":${deep}}}`],
    ] as const) {
      const res = await rawRequest(backend, path.includes('layers') ? 'PUT' : 'POST', path, { headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` }, body });
      results.push(`${res.status} ${String(codeOf(res))}`);
      expect([res.status, codeOf(res)], `${path}: ${res.text.slice(0, 200)}`).toEqual([400, 'BAD_REQUEST']);
    }
    expect((await api(backend, 'GET', '/healthz')).status).toBe(200);
    void annotate(results.join(', '));
  });

  // ── slow clients ──

  it('slowloris: trickled headers (HTTP and upgrade), silent TLS and a silent control channel are all cut; others unaffected', async ({ annotate }) => {
    const started = Date.now();
    const closedAt = (socket: NodeJS.EventEmitter) => new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - started)));
    const trickle = async (head: string) => {
      const socket = await openTls(backend);
      socket.on('error', () => undefined);
      const closed = closedAt(socket);
      socket.write(head);
      const timer = setInterval(() => socket.writable && socket.write('X'), 500);
      const ms = await closed;
      clearInterval(timer);
      return ms;
    };
    const silentTcp = () => new Promise<number>((resolve) => {
      const socket = tcpConnect(backend.port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.once('close', () => resolve(Date.now() - started));
    });
    const silentControl = async () => {
      const raw = await openRaw(backend);
      return raw.closed;
    };
    const pending = Promise.all([
      ...Array.from({ length: 20 }, () => trickle('GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ')),
      ...Array.from({ length: 20 }, () => trickle('GET /v1/agent/control HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Slow: ')),
      ...Array.from({ length: 20 }, silentTcp),
    ]);
    const control = silentControl();
    // Meanwhile the backend answers everyone else.
    for (let i = 0; i < 5; i++) {
      const t = Date.now();
      expect((await api(backend, 'GET', '/healthz')).status).toBe(200);
      expect(Date.now() - t).toBeLessThan(2_000);
      await sleep(1_000);
    }
    const times = await pending;
    expect(await control).toEqual(closedWith('HANDSHAKE_TIMEOUT'));
    const worst = Math.max(...times);
    expect(worst).toBeLessThan(25_000);
    void annotate(`60 slow sockets cut within ${Math.round(worst / 1000)} s; silent control channel → 4432 HANDSHAKE_TIMEOUT`);
  }, 60_000);

  // ── authorization ──

  it('RBAC bypass tricks (method override, path tricks, case, trailing slash) never reach an admin route', async ({ annotate }) => {
    const tokensBefore = ((await api(backend, 'GET', '/api/v1/tokens', { token: admin })).body as { tokens: unknown[] }).tokens.length;
    const paths = ['/api/v1/tokens', '/api/v1//tokens', '/api/v1/tokens/', '/API/V1/TOKENS', '/api/v1/Tokens', '/api/v1/%74okens', '/api/v1/./tokens',
      '/api/v1/x/../tokens', '/api/v1/%2e/tokens', '/api/v1/tokens;.css', '/api/v1/tokens%00', '/api/v1/tokens?x=/healthz', '//api/v1/tokens', '/api/v1/tokens%2f'];
    const overrides: Array<Record<string, string>> = [{}, { 'x-http-method-override': 'GET' }, { 'x-http-method': 'GET' }, { 'x-method-override': 'GET' }, { 'x-original-url': '/healthz' }, { 'x-rewrite-url': '/healthz' }, { 'x-forwarded-for': '127.0.0.1' }];
    let tries = 0;
    const seen = new Set<string>();
    const identities: Array<[string, Record<string, string>]> = [['viewer', { authorization: `Bearer ${viewer}` }], ['anonymous', {}], ['forged', { authorization: `Bearer ${viewer}x` }]];
    for (const [who, auth] of identities) {
      for (const path of paths) {
        for (const extra of overrides) {
          for (const method of ['POST', 'GET']) {
            const res = await rawRequest(backend, method, path, method === 'POST' ? { headers: { ...auth, ...extra, 'content-type': 'application/json' }, body: '{}' } : { headers: { ...auth, ...extra } });
            tries++;
            seen.add(`${res.status}`);
            expect(res.status, `${who} ${method} ${path} ${JSON.stringify(extra)}`).toBeGreaterThanOrEqual(400);
            expect(isErrorCode(codeOf(res)), `${who} ${method} ${path}: ${res.text.slice(0, 120)}`).toBe(true);
          }
        }
      }
    }
    // The viewer can do viewer things.
    expect((await api(backend, 'GET', '/api/v1/devices', { token: viewer })).status).toBe(200);
    expect(((await api(backend, 'GET', '/api/v1/tokens', { token: admin })).body as { tokens: unknown[] }).tokens.length).toBe(tokensBefore);
    void annotate(`${tries} attempts, statuses ${[...seen].sort().join('/')}, no token created`);
  });

  it('registration token brute force → 429 RATE_LIMITED per IP (the valid token stays unspent)', async ({ annotate }) => {
    const admin2 = await login(backend);
    const good = (await api(backend, 'POST', '/api/v1/tokens', { token: admin2, body: {} })).body as { token: string };
    const csr = (await import('../../agent/enrol/csr.js')).createDeviceKeyAndCsr;
    const { csrPem } = await csr();
    const codes: string[] = [];
    for (let i = 0; i < 30; i++) {
      const res = await rawRequest(backend, 'POST', '/api/v1/agent/register', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: `rt_${randomBytes(32).toString('base64url')}`, csr: csrPem }) });
      codes.push(String(codeOf(res)));
    }
    const firstLimited = codes.indexOf('RATE_LIMITED');
    expect(firstLimited).toBeGreaterThan(0);
    expect(firstLimited).toBeLessThanOrEqual(10);
    expect(codes.slice(0, firstLimited).every((c) => c === 'TOKEN_INVALID')).toBe(true);
    expect(codes.slice(firstLimited).every((c) => c === 'RATE_LIMITED')).toBe(true);
    // While limited, even a right guess is not tried: the attacker learns nothing.
    const right = await rawRequest(backend, 'POST', '/api/v1/agent/register', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: good.token, csr: csrPem }) });
    expect([right.status, codeOf(right)]).toEqual([429, 'RATE_LIMITED']);
    expect(right.headers['retry-after']).toMatch(/^\d+$/);
    // Guessing on while locked out earns the longer block (300 s), not just the rest of the minute.
    expect(Number(right.headers['retry-after'])).toBeGreaterThan(60);
    void annotate(`${firstLimited} × TOKEN_INVALID, then 429 RATE_LIMITED (Retry-After ${String(right.headers['retry-after'])} s)`);
  });
});

