/**
 * Real processes for integration and e2e tests: the backend and agents run as the same
 * `bin/` commands a user runs, on 127.0.0.1 with port 0, each in its own temporary home.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import WebSocket from 'ws';
import { ConsoleServerMessage, type ConsoleClientMessage } from '../protocol/index.js';
import type { Engine } from '../backend/store/engine.js';
import { openPostgres } from '../backend/store/postgres/pool.js';
import type { StoreSchema } from '../backend/store/schema.js';
import { createTestDatabase } from './store/test-database.js';

export const ROOT = resolve(import.meta.dirname, '..');
export const ADMIN_PASSWORD = 'correct horse battery staple';

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `tether-${prefix}-`));
}

/** Every process a test started; killed when the test process exits, even after a failed setup. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** A child process with its output kept line by line, so tests can wait for what it logs. */
export class Proc {
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  private waiters: Array<() => void> = [];

  constructor(readonly child: ChildProcess, readonly label: string) {
    running.add(child);
    child.on('exit', () => running.delete(child));
    for (const stream of [child.stdout, child.stderr]) {
      let buffered = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        buffered += chunk;
        const parts = buffered.split('\n');
        buffered = parts.pop() ?? '';
        this.lines.push(...parts);
        for (const wake of this.waiters.splice(0)) wake();
      });
    }
    this.exited = new Promise((resolveExit) => child.on('exit', (code) => {
      for (const wake of this.waiters.splice(0)) wake();
      resolveExit(code);
    }));
  }

  /** Log lines that are JSON (pino), parsed. */
  json(): Array<Record<string, unknown>> {
    return this.lines.flatMap((line) => {
      try {
        const value: unknown = JSON.parse(line);
        return typeof value === 'object' && value !== null ? [value as Record<string, unknown>] : [];
      } catch {
        return [];
      }
    });
  }

  /** Resolves with the first JSON log entry matching, failing after `timeoutMs` with the output so far. */
  async waitForLog(match: (entry: Record<string, unknown>) => boolean, timeoutMs = 20_000, from = 0): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.json().slice(from).find(match);
      if (hit) return hit;
      if (this.child.exitCode !== null) throw new Error(`${this.label} exited (${this.child.exitCode}) before the expected log line:\n${this.tail()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.label}: timed out waiting for a log line:\n${this.tail()}`);
      await new Promise<void>((wake) => {
        const timer = setTimeout(wake, Math.min(left, 500));
        this.waiters.push(() => {
          clearTimeout(timer);
          wake();
        });
      });
    }
  }

  count(match: (entry: Record<string, unknown>) => boolean): number {
    return this.json().filter(match).length;
  }

  tail(n = 30): string {
    return this.lines.slice(-n).join('\n');
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

function spawnBin(bin: 'tether-backend' | 'tether-agent', args: string[], env: Record<string, string> = {}, label: string = bin): Proc {
  const child = spawn(process.execPath, [join(ROOT, 'bin', `${bin}.js`), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return new Proc(child, label);
}

/**
 * The engine integration tests run the backend on: `TETHER_TEST_STORE=postgres` gives every backend
 * home its own PostgreSQL database (created on first start, kept across restarts of that home,
 * dropped when the test file ends); SQLite otherwise. `npm test` runs the suite on both.
 */
export const TEST_STORE: Engine = process.env.TETHER_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite';

const homeDatabases = new Map<string, { url: string; drop(): Promise<void> }>();

/** Drops the databases this test file's backends used (test/integration/setup.ts runs it after each file). */
export async function dropTestDatabases(): Promise<void> {
  for (const database of homeDatabases.values()) await database.drop();
  homeDatabases.clear();
}

/** The environment that points a backend (or a one-off command) on `home` at its test database. */
export async function storeEnv(home: string): Promise<Record<string, string>> {
  if (TEST_STORE === 'sqlite') return {};
  let database = homeDatabases.get(home);
  if (!database) {
    database = await createTestDatabase();
    homeDatabases.set(home, database);
  }
  return { TETHER_DATABASE_URL: database.url };
}

/**
 * The database behind a test backend, for assertions on what it stored: on SQLite the home's
 * tether.db or metrics.db (read-only), on PostgreSQL the home's database (both parts in one).
 */
export async function backendDb(backend: Pick<Backend, 'home'>, part: 'main' | 'metrics'): Promise<Kysely<StoreSchema>> {
  if (TEST_STORE === 'sqlite') {
    const file = join(backend.home, part === 'main' ? 'tether.db' : 'metrics.db');
    return new Kysely<StoreSchema>({ dialect: new SqliteDialect({ database: new Database(file, { readonly: true }) }) });
  }
  const url = (await storeEnv(backend.home)).TETHER_DATABASE_URL ?? '';
  return (await openPostgres({ url, max: 2 })).db;
}

export interface Backend {
  proc: Proc;
  home: string;
  url: string;
  port: number;
  caPin: string;
  caCertPem: string;
  stop(): Promise<void>;
}

/** Starts `tether-backend serve` and waits for its `listening` log line. */
export async function startBackend(options: { home?: string; port?: number; env?: Record<string, string> } = {}): Promise<Backend> {
  const home = options.home ?? tempDir('backend');
  const env = { TETHER_ADMIN_PASSWORD: ADMIN_PASSWORD, ...(await storeEnv(home)), ...options.env };
  const proc = spawnBin('tether-backend', ['serve', '--home', home, '--listen', `127.0.0.1:${options.port ?? 0}`], env, 'backend');
  const listening = await proc.waitForLog((e) => e.msg === 'listening', 60_000);
  const url = String(listening.url);
  return {
    proc, home, url, port: Number(new URL(url).port), caPin: String(listening.caPin),
    caCertPem: readFileSync(join(home, 'pki', 'ca.crt'), 'utf8'),
    stop: async () => {
      await proc.stop();
    },
  };
}

/** One HTTPS JSON call trusting only the backend's CA. */
export function api(backend: Pick<Backend, 'url' | 'caCertPem'>, method: string, path: string, options: { token?: string; body?: unknown } = {}): Promise<{ status: number; body: unknown; headers: import('node:http').IncomingHttpHeaders }> {
  const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
  return new Promise((resolveCall, reject) => {
    const req = request(new URL(path, backend.url), {
      method,
      ca: backend.caCertPem,
      headers: {
        ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          // not JSON: keep the text
        }
        resolveCall({ status: res.statusCode ?? 0, body, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

export async function login(backend: Backend, password = ADMIN_PASSWORD): Promise<string> {
  const res = await api(backend, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password } });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
  return (res.body as { token: string }).token;
}

export async function createToken(backend: Backend, adminToken: string, body: Record<string, unknown> = {}): Promise<string> {
  const res = await api(backend, 'POST', '/api/v1/tokens', { token: adminToken, body });
  if (res.status !== 200) throw new Error(`token create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return (res.body as { token: string }).token;
}

/** Runs `tether-agent register` to the end; returns its exit code and output. */
export async function registerAgent(backend: Pick<Backend, 'url' | 'caPin'>, token: string, stateDir: string, extra: string[] = []): Promise<{ code: number | null; output: string }> {
  const proc = spawnBin('tether-agent', ['register', '--backend', backend.url, '--token', token, '--ca-pin', backend.caPin, '--state', stateDir, ...extra], {}, 'register');
  const code = await proc.exited;
  return { code, output: proc.lines.join('\n') };
}

/**
 * Fast timers for tests: quick reconnects and telemetry. Shells are dash, not the login shell:
 * a machine's ~/.bashrc can take seconds to start (pyenv init took 20 s on one), outlasting any wait.
 */
export const FAST_AGENT_ENV = { TETHER_BACKOFF_BASE_MS: '200', TETHER_TELEMETRY_INTERVAL_MS: '500', TETHER_SHELL: '/bin/sh' };

export function startAgent(stateDir: string, env: Record<string, string> = {}, label = 'agent'): Proc {
  return spawnBin('tether-agent', ['run', '--state', stateDir], { ...FAST_AGENT_ENV, ...env }, label);
}

/** Enrols a device and starts its agent; resolves once the backend has it online. */
export async function enrolAndRun(backend: Backend, adminToken: string, label = 'agent', env: Record<string, string> = {}): Promise<{ proc: Proc; stateDir: string; deviceId: string }> {
  const stateDir = tempDir('agent');
  const reg = await registerAgent(backend, await createToken(backend, adminToken), stateDir, ['--name', label]);
  if (reg.code !== 0) throw new Error(`register failed (${reg.code}):\n${reg.output}`);
  const deviceId = (JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as { deviceId: string }).deviceId;
  const proc = startAgent(stateDir, env, label);
  try {
    await waitFor(async () => (await deviceOf(backend, adminToken, deviceId))?.online === true, 30_000, `${label} online`);
  } catch (err) {
    await proc.stop();
    throw new Error(`${String(err)}\n--- ${label} output ---\n${proc.tail()}\n--- backend output ---\n${backend.proc.tail()}`, { cause: err });
  }
  return { proc, stateDir, deviceId };
}

export interface ApiDevice { id: string; name: string; online: boolean; lastSeen: number | null; status: string; tags: Record<string, string> }

export async function deviceOf(backend: Backend, adminToken: string, id: string): Promise<ApiDevice | undefined> {
  const res = await api(backend, 'GET', '/api/v1/devices', { token: adminToken });
  return (res.body as { devices: ApiDevice[] }).devices.find((d) => d.id === id);
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A console WebSocket (bearer auth, as a non-browser client) for relaying device requests. */
export async function openConsole(backend: Backend, adminToken: string): Promise<{ request(deviceId: string, method: string, params: unknown): Promise<Extract<ConsoleServerMessage, { type: 'device.response' }>>; send(msg: ConsoleClientMessage): void; messages: ConsoleServerMessage[]; close(): void }> {
  const ws = new WebSocket(new URL('/api/v1/console', backend.url.replace('https:', 'wss:')).href, { ca: backend.caCertPem, headers: { authorization: `Bearer ${adminToken}` } });
  const messages: ConsoleServerMessage[] = [];
  const pending = new Map<number, (m: Extract<ConsoleServerMessage, { type: 'device.response' }>) => void>();
  ws.on('message', (data) => {
    const msg = ConsoleServerMessage.parse(JSON.parse(data.toString()));
    messages.push(msg);
    if (msg.type === 'device.response') pending.get(msg.id)?.(msg);
  });
  await new Promise<void>((ok, fail) => {
    ws.once('open', () => ok());
    ws.once('error', fail);
  });
  let nextId = 1;
  return {
    messages,
    request: (deviceId, method, params) =>
      new Promise((answer) => {
        const id = nextId++;
        pending.set(id, answer);
        const msg: ConsoleClientMessage = { type: 'device.request', id, deviceId, method, params };
        ws.send(JSON.stringify(msg));
      }),
    send: (msg) => ws.send(JSON.stringify(msg)),
    close: () => ws.close(),
  };
}

export function cleanup(...dirs: string[]): void {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}
