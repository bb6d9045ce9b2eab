/**
 * TCP port forwarding end to end: `tether forward` (spawned) → backend → a real agent → servers on
 * the device's loopback. Many parallel HTTP connections, a large download under flow control, a
 * half-close both ways, refusals with stable codes (not allowed, refused, viewer), and the audit
 * log's entries with byte counts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createServer as createHttpServer, request as httpRequest, type Server as HttpServer } from 'node:http';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { AuditPage } from '../../protocol/index.js';
import { ADMIN_PASSWORD, api, cleanup, enrolAndRun, login, ROOT, startBackend, tempDir, waitFor, type Backend, type Proc } from '../harness.js';
import { addUser } from '../shell-client.js';

const TETHER = join(ROOT, 'bin', 'tether.js');
const BIG = randomBytes(6 * 1024 * 1024);
const BIG_SHA = createHash('sha256').update(BIG).digest('hex');
/**
 * Larger than what the path can hold while its reader is paused: kernel buffers on four sockets
 * (loopback receive buffers autotune up to tcp_rmem's maximum, 32 MB on CI machines; a loaded run
 * held 17 MB), the agent's window and the WebSocket bounds.
 */
const FLOOD_BYTES = 96 * 1024 * 1024;

/** Writes FLOOD_BYTES to each connection as fast as the socket takes them; counts what it got rid of. */
function floodServer(): Server & { written: number } {
  const server = Object.assign(createServer((socket) => {
    const chunk = Buffer.alloc(64 * 1024, 9);
    let sent = 0;
    const pump = (): void => {
      while (sent < FLOOD_BYTES) {
        sent += chunk.length;
        server.written += chunk.length;
        if (!socket.write(chunk)) {
          socket.once('drain', pump);
          return;
        }
      }
      socket.end();
    };
    socket.on('error', () => undefined);
    pump();
  }), { written: 0 });
  return server;
}

interface CliEvent {
  event: string;
  port?: number;
  connection?: number;
  code?: string | null;
  bytesIn?: number;
  bytesOut?: number;
}

/** A running `tether forward --json`: its events as they come, and a stop by SIGINT. */
class ForwardCli {
  readonly events: CliEvent[] = [];
  stderr = '';
  private readonly exited: Promise<number | null>;

  constructor(private readonly child: ChildProcess) {
    let buffer = '';
    child.stdout?.setEncoding('utf8').on('data', (s: string) => {
      buffer += s;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.trim() !== '') this.events.push(JSON.parse(line) as CliEvent);
      }
    });
    child.stderr?.setEncoding('utf8').on('data', (s: string) => (this.stderr += s));
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }

  async port(): Promise<number> {
    await waitFor(() => this.events.some((e) => e.event === 'listening'), 20_000, `listening (stderr: ${this.stderr})`);
    return this.events.find((e) => e.event === 'listening')?.port ?? 0;
  }

  closes(): CliEvent[] {
    return this.events.filter((e) => e.event === 'close');
  }

  async stop(): Promise<number | null> {
    this.child.kill('SIGINT');
    return this.exited;
  }
}

function listen<T extends Server | HttpServer>(server: T): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function httpGet(port: number, path: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('tether forward through a real backend and agent', () => {
  let backend: Backend;
  let admin: string;
  let agent: { proc: Proc; stateDir: string; deviceId: string };
  let config: string;
  let web: HttpServer;
  let webPort: number;
  let halfClose: Server;
  let halfClosePort: number;
  let closedPort: number;
  let flood: Server & { written: number };
  let floodPort: number;
  let notAllowedPort: number;
  const clis: ForwardCli[] = [];

  const tether = (args: string[], input = ''): ChildProcess => {
    const child = spawn(process.execPath, [TETHER, ...args], { cwd: ROOT, env: { ...process.env, XDG_CONFIG_HOME: config }, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin?.end(input);
    return child;
  };
  const forwardCli = (spec: string): ForwardCli => {
    const cli = new ForwardCli(tether(['forward', agent.deviceId, spec, '--json']));
    clis.push(cli);
    return cli;
  };

  beforeAll(async () => {
    // The device's web server: /big is 6 MB of random bytes, /n/<i> answers its own number after a short wait.
    web = createHttpServer((req, res) => {
      if (req.url === '/big') {
        res.writeHead(200, { 'content-length': BIG.length });
        res.end(BIG);
        return;
      }
      setTimeout(() => res.end(`hello ${req.url ?? ''}`), 20);
    });
    webPort = await listen(web);
    // Reads until the client half-closes, then answers with what it got and ends its side too.
    halfClose = createServer({ allowHalfOpen: true }, (socket) => {
      let got = 0;
      socket.on('data', (c: Buffer) => (got += c.length));
      socket.on('end', () => socket.end(`got ${got} bytes after your FIN`));
    });
    halfClosePort = await listen(halfClose);
    flood = floodServer();
    floodPort = await listen(flood);
    const probe = createServer();
    closedPort = await listen(probe);
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    notAllowedPort = closedPort === 65535 ? 65534 : closedPort + 1;

    backend = await startBackend();
    admin = await login(backend);
    agent = await enrolAndRun(backend, admin, 'forward-host', {
      TETHER_FORWARD_ALLOW: `127.0.0.1:${webPort},127.0.0.1:${halfClosePort},127.0.0.1:${closedPort},127.0.0.1:${floodPort}`,
    });
    config = tempDir('forward-cli');
    const child = tether(['login', backend.url, '--ca-pin', backend.caPin, '--username', 'admin'], `${ADMIN_PASSWORD}\n`);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
  }, 120_000);

  afterAll(async () => {
    for (const cli of clis) await cli.stop().catch(() => undefined);
    await agent?.proc.stop();
    await backend?.stop();
    web?.close();
    halfClose?.close();
    flood?.close();
    cleanup(backend?.home ?? '', agent?.stateDir ?? '', config ?? '');
  });

  it('serves 40 parallel HTTP connections and a 6 MB download intact through one forward', async () => {
    const cli = forwardCli(`0:127.0.0.1:${webPort}`);
    const port = await cli.port();
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => httpGet(port, `/n/${i}`)));
    results.forEach((r, i) => {
      expect(r.status).toBe(200);
      expect(r.body.toString()).toBe(`hello /n/${i}`);
    });
    const big = await httpGet(port, '/big');
    expect(big.body.length).toBe(BIG.length);
    expect(createHash('sha256').update(big.body).digest('hex')).toBe(BIG_SHA);
    await waitFor(() => cli.closes().length === 41, 15_000, 'every connection reported closed');
    expect(cli.closes().every((e) => e.code === null)).toBe(true);
    expect(Math.max(...cli.closes().map((e) => e.bytesIn ?? 0))).toBeGreaterThan(BIG.length);
    expect(await cli.stop()).toBe(0);
    expect(cli.events.at(-1)?.event).toBe('stopped');
    const metrics = String((await api(backend, 'GET', '/metrics')).body);
    expect(metrics).toMatch(/^tether_forwards_open 0$/m);
  });

  it('holds a flood back end to end while the local reader is paused, then delivers all of it', async () => {
    const cli = forwardCli(`0:127.0.0.1:${floodPort}`);
    const port = await cli.port();
    const socket = connect({ host: '127.0.0.1', port });
    socket.pause();
    await waitFor(() => flood.written > 0, 10_000, 'the flood started');
    await new Promise((r) => setTimeout(r, 2500));
    const stalled = flood.written;
    // What the path holds (see FLOOD_BYTES), not the whole flood.
    expect(stalled).toBeLessThan(FLOOD_BYTES / 3);
    await new Promise((r) => setTimeout(r, 1000));
    expect(flood.written).toBe(stalled);
    let received = 0;
    socket.on('data', (c: Buffer) => (received += c.length));
    // A stream paused on purpose stays paused when a 'data' listener is added.
    socket.resume();
    await new Promise<void>((resolve) => socket.on('end', () => resolve()));
    expect(received).toBe(FLOOD_BYTES);
    socket.destroy();
    await waitFor(() => cli.closes().length === 1, 10_000, 'the flood connection reported closed');
    expect(cli.closes()[0]).toMatchObject({ code: null, bytesIn: FLOOD_BYTES });
  });

  it('carries a half-close both ways: the device answers after the client FIN, then ends', async () => {
    const cli = forwardCli(`0:127.0.0.1:${halfClosePort}`);
    const port = await cli.port();
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
      let text = '';
      socket.setEncoding('utf8').on('data', (s: string) => (text += s));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
      socket.write(Buffer.alloc(300_000, 1));
      socket.end();
    });
    expect(answer).toBe('got 300000 bytes after your FIN');
    await waitFor(() => cli.closes().length === 1, 10_000, 'the connection reported closed');
    expect(cli.closes()[0]).toMatchObject({ code: null, bytesOut: 300_000 });
  });

  it('refuses a port outside the allow-list with FORWARD_NOT_ALLOWED and a closed port with FORWARD_REFUSED', async () => {
    for (const [target, code] of [[notAllowedPort, 'FORWARD_NOT_ALLOWED'], [closedPort, 'FORWARD_REFUSED']] as const) {
      const cli = forwardCli(`0:127.0.0.1:${target}`);
      const port = await cli.port();
      const outcome = await new Promise<string>((resolve) => {
        const socket = connect({ host: '127.0.0.1', port });
        socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
        socket.on('close', () => resolve('closed'));
      });
      expect(outcome).toBe('ECONNRESET');
      await waitFor(() => cli.closes().length === 1, 15_000, `${code} reported`);
      expect(cli.closes()[0]?.code).toBe(code);
    }
    // A host that is not on the loopback is not in the default list either (asked over the socket API).
    const ws = new WebSocket(`${backend.url.replace('https', 'wss')}/api/v1/forward?deviceId=${agent.deviceId}&host=10.255.255.1&port=80`, { ca: backend.caCertPem, headers: { authorization: `Bearer ${admin}` } });
    const [closeCode, reason] = await new Promise<[number, string]>((resolve) => ws.on('close', (c, r) => resolve([c, r.toString()])));
    expect([closeCode, reason]).toEqual([4530, 'FORWARD_NOT_ALLOWED']);
  });

  it('refuses a viewer with FORBIDDEN before any device is asked; an operator may forward', async () => {
    const viewer = await addUser(backend, 'fwd-viewer', 'viewer');
    const operator = await addUser(backend, 'fwd-operator', 'operator');
    const attempt = (token: string) => new Promise<{ status?: number; code?: string; opened?: boolean }>((resolve) => {
      const ws = new WebSocket(`${backend.url.replace('https', 'wss')}/api/v1/forward?deviceId=${agent.deviceId}&port=${webPort}`, { ca: backend.caCertPem, headers: { authorization: `Bearer ${token}` } });
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode, code: (JSON.parse(body) as { code: string }).code }));
      });
      ws.on('message', (data, isBinary) => {
        if (!isBinary && (JSON.parse(data.toString()) as { type: string }).type === 'opened') {
          ws.close(1000);
          resolve({ opened: true });
        }
      });
      ws.on('error', () => undefined);
    });
    expect(await attempt(viewer)).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect(await attempt(operator)).toEqual({ opened: true });
  });

  it('web relay: a viewer gets no grant; an operator reads the device page over HTTPS and the stream is audited', async () => {
    const viewer = await addUser(backend, 'relay-viewer', 'viewer');
    const operator = await addUser(backend, 'relay-operator', 'operator');
    const denied = await api(backend, 'POST', `/api/v1/devices/${agent.deviceId}/relay`, { token: viewer, body: { port: webPort } });
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ code: 'FORBIDDEN' });
    const granted = await api(backend, 'POST', `/api/v1/devices/${agent.deviceId}/relay`, { token: operator, body: { port: webPort } });
    expect(granted.status).toBe(200);
    const path = (granted.body as { path: string }).path;
    const page = await api(backend, 'GET', `${path}n/relayed`);
    expect(page.status).toBe(200);
    expect(page.body).toBe('hello /n/relayed');
    expect(page.headers['content-security-policy']).toContain('sandbox');
    // A port outside the device's allow-list is refused by the agent, with its code.
    const other = await api(backend, 'POST', `/api/v1/devices/${agent.deviceId}/relay`, { token: operator, body: { port: notAllowedPort } });
    const refused = await api(backend, 'GET', (other.body as { path: string }).path);
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ code: 'FORWARD_NOT_ALLOWED' });
    const audit = async (action: string) => ((await api(backend, 'GET', `/api/v1/audit?action=${action}&actor=user:relay-operator`, { token: admin })).body as AuditPage).entries;
    expect(await audit('relay.grant')).toHaveLength(2);
    await waitFor(async () => (await audit('forward.close')).length === 1, 10_000, 'the relay stream audited');
    expect((await audit('forward.close'))[0]?.details).toMatchObject({ kind: 'relay', port: webPort, code: null });
    expect(Number((await audit('forward.close'))[0]?.details.bytesIn)).toBeGreaterThan(0);
  });

  it('audits every forward with its byte counts, and every refusal with its code', async () => {
    const entries = async (action: string) => ((await api(backend, 'GET', `/api/v1/audit?action=${action}&limit=1000`, { token: admin })).body as AuditPage).entries;
    await waitFor(async () => (await entries('forward.close')).length >= 45, 10_000, 'forward.close entries');
    const closes = (await entries('forward.close')).filter((e) => e.details.kind === 'tcp');
    expect(closes).toHaveLength(44);
    const big = closes.find((e) => Number(e.details.bytesIn) > BIG.length && e.details.port === webPort);
    expect(closes.some((e) => e.details.bytesIn === FLOOD_BYTES && e.details.port === floodPort)).toBe(true);
    expect(big).toMatchObject({ actor: 'user:admin', target: agent.deviceId, details: { kind: 'tcp', host: '127.0.0.1', port: webPort, code: null } });
    expect(closes.some((e) => e.details.bytesOut === 300_000 && e.details.port === halfClosePort)).toBe(true);
    const opens = (await entries('forward.open')).filter((e) => e.details.kind === 'tcp');
    expect(opens.length).toBe(closes.length);
    const refused = (await entries('forward.refused')).filter((e) => e.details.kind === 'tcp');
    expect(refused.map((e) => e.details.code).sort()).toEqual(['FORWARD_NOT_ALLOWED', 'FORWARD_NOT_ALLOWED', 'FORWARD_REFUSED']);
  });

  it("takes the allow-list from the agent's remote settings (forwardAllow) over its environment", async () => {
    const put = await api(backend, 'PUT', `/api/v1/config/layers/device:${agent.deviceId}`, { token: admin, body: { values: { agent: { forwardAllow: [`127.0.0.1:${halfClosePort}`] } }, expectedVersion: 0, message: 'only the half-close server' } });
    expect(put.status).toBe(200);
    const code = (port: number) => new Promise<number>((resolve) => {
      const ws = new WebSocket(`${backend.url.replace('https', 'wss')}/api/v1/forward?deviceId=${agent.deviceId}&port=${port}`, { ca: backend.caCertPem, headers: { authorization: `Bearer ${admin}` } });
      ws.on('message', (data, isBinary) => {
        if (!isBinary && (JSON.parse(data.toString()) as { type: string }).type === 'opened') ws.close(1000);
      });
      ws.on('close', (c) => resolve(c));
      ws.on('error', () => undefined);
    });
    // The web server's port was allowed by TETHER_FORWARD_ALLOW; the remote setting replaces that list.
    await waitFor(async () => (await code(webPort)) === 4530, 15_000, 'the remote allow-list applied');
    expect(await code(halfClosePort)).toBe(1000);
  });
});
