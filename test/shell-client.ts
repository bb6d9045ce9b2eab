/**
 * A terminal client for tests and benchmarks that behaves like the console's xterm: raw bytes
 * in binary frames, and an ack for every byte it has "written", batched as the console batches
 * them (renderer/shell/terminal-connection.ts), unless paused.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import WebSocket from 'ws';
import { SHELL_ACK_BATCH_BYTES, SHELL_ACK_DELAY_MS, SHELL_CLOSE_DELIBERATE, ShellServerMessage, type ShellClientMessage, type ShellNotice } from '../protocol/index.js';
import { api, ROOT, storeEnv, type Backend } from './harness.js';

export class ShellClient {
  readonly chunks: Buffer[] = [];
  received = 0;
  acked = 0;
  /** While true, output is kept but not acknowledged (a console that stopped drawing). */
  holdAcks = false;
  /** Off for bulk transfers (benchmarks): bytes are counted and acked, not kept. */
  keepOutput = true;
  sessionId = '';
  opened: Extract<ShellServerMessage, { type: 'opened' }> | null = null;
  ended: Extract<ShellServerMessage, { type: 'ended' }> | null = null;
  readonly notices: ShellNotice[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: Array<() => void> = [];
  private ackTimer: NodeJS.Timeout | null = null;
  private lastOutputAt = Date.now();

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        if (this.keepOutput) this.chunks.push(data);
        this.received += data.length;
        this.lastOutputAt = Date.now();
        if (!this.holdAcks) this.scheduleAck();
      } else {
        const msg = ShellServerMessage.parse(JSON.parse(data.toString('utf8')));
        if (msg.type === 'opened') {
          this.opened = msg;
          this.sessionId = msg.sessionId;
        } else if (msg.type === 'notice') this.notices.push(msg);
        else this.ended = msg;
      }
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => {
      for (const wake of this.waiters.splice(0)) wake();
      resolve({ code, reason: reason.toString() });
    }));
  }

  /** Opens a terminal (`{deviceId, cols, rows}`) or reattaches (`{sessionId}`); resolves once `opened` arrived. */
  static async open(backend: Pick<Backend, 'url' | 'caCertPem'>, token: string, query: Record<string, string | number>): Promise<ShellClient> {
    const url = new URL('/api/v1/shell', backend.url.replace('https:', 'wss:'));
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, String(v));
    const ws = new WebSocket(url.href, { ca: backend.caCertPem, headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
    const client = new ShellClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode} ${body}`), { status: res.statusCode, body })));
      });
      ws.once('error', reject);
      ws.once('open', () => resolve());
    });
    await client.until(() => client.sessionId !== '' || client.ended !== null, 15_000, 'opened');
    if (client.ended) throw new Error(`shell ended at once: ${client.ended.code}`);
    return client;
  }

  /** Output from byte `from` on; only the chunks past `from` are joined, so polling a flood stays cheap. */
  text(from = 0): string {
    let start = this.received;
    let i = this.chunks.length;
    while (i > 0 && start > from) start -= (this.chunks[--i] as Buffer).length;
    return Buffer.concat(this.chunks.slice(i)).subarray(from - start).toString('utf8');
  }

  type(text: string): void {
    this.ws.send(Buffer.from(text, 'utf8'), { binary: true });
  }

  control(msg: ShellClientMessage): void {
    this.ws.send(JSON.stringify(msg));
  }

  /** A batch at once; less than that shortly after, as the console does. */
  private scheduleAck(): void {
    if (this.received - this.acked >= SHELL_ACK_BATCH_BYTES) {
      this.ackAll();
      return;
    }
    this.ackTimer ??= setTimeout(() => {
      this.ackTimer = null;
      if (!this.holdAcks && this.ws.readyState === WebSocket.OPEN) this.ackAll();
    }, SHELL_ACK_DELAY_MS);
  }

  ackAll(): void {
    const bytes = this.received - this.acked;
    if (bytes <= 0) return;
    this.acked = this.received;
    this.control({ type: 'ack', bytes });
  }

  /** Resolves when `check` holds, re-checked on every frame. */
  async until(check: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; output tail: ${JSON.stringify(this.text().slice(-300))}`);
      await new Promise<void>((wake) => {
        const timer = setTimeout(wake, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          wake();
        });
      });
    }
  }

  /**
   * Resolves once no output has arrived for `quietMs`: the stream has stalled (a paused PTY, or
   * everything in flight delivered). Fails if output keeps flowing for `timeoutMs`.
   */
  async settled(quietMs: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const quietFor = Date.now() - this.lastOutputAt;
      if (quietFor >= quietMs) return;
      if (Date.now() >= deadline) throw new Error(`output kept flowing for ${timeoutMs} ms; ${this.received} bytes received`);
      await new Promise((wake) => setTimeout(wake, quietMs - quietFor));
    }
  }

  /** Waits until the output after byte `from` contains `needle`. */
  async waitFor(needle: string, from = 0, timeoutMs = 10_000): Promise<void> {
    await this.until(() => this.text(from).includes(needle), timeoutMs, JSON.stringify(needle));
  }

  /** Closes the socket without a status code, which the backend treats like a lost connection (grace period). */
  close(): void {
    this.ws.close();
  }

  /** Closes as the console does when its tab is closed: the backend ends the session at once. */
  closeTab(): void {
    this.ws.close(SHELL_CLOSE_DELIBERATE, 'closed');
  }
}

/** Adds a console user with `tether-backend user add` and logs in as them. */
export async function addUser(backend: Backend, username: string, role: 'admin' | 'operator' | 'viewer', password = 'a long enough password 1'): Promise<string> {
  const env = { ...process.env, ...(await storeEnv(backend.home)) };
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'tether-backend.js'), 'user', 'add', '--home', backend.home, '--username', username, '--role', role], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.end(`${password}\n`);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`user add failed: ${code}`);
  const res = await api(backend, 'POST', '/api/v1/auth/login', { body: { username, password } });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
  return (res.body as { token: string }).token;
}
