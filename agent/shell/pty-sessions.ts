import { createRequire } from 'node:module';
import type * as NodePty from 'node-pty';
import type { IPty } from 'node-pty';
import type { Logger } from 'pino';
import { TetherError } from '../../protocol/errors.js';
import type { AgentParams, AgentResult } from '../../protocol/methods.js';
import { FlowWindow } from './flow-window.js';
import { trimFront } from '../../channel/chunk-queue.js';
import { OutputCoalescer } from '../../channel/output-coalescer.js';
import type { ShellConfig } from './shell-config.js';

export interface PtySessionsOptions {
  config: ShellConfig;
  /** Sends PTY output on the control channel; false when it is down. */
  send(streamId: number, data: Uint8Array): boolean;
  /** Reports a session's end to the backend. */
  emitExit(streamId: number, exitCode: number | null, signal: number | null): void;
  log: Logger;
  maxSessions?: number;
  highWaterBytes?: number;
  lowWaterBytes?: number;
  /** How long a PTY whose control channel dropped waits for its backend session to reattach. */
  detachedGraceMs?: number;
}

interface Session {
  pty: IPty;
  window: FlowWindow;
  /** The backend's session id: a session opened with one outlives its control channel for a while. */
  sessionId: string | undefined;
  /** The stream its output goes to; null while detached (the control channel dropped). */
  streamId: number | null;
  /** Output bytes produced so far, and how many of them the console acknowledged. */
  sent: number;
  acked: number;
  /** The output from `acked` to `sent`, resent from where the backend's copy ends after a reattach (at most a window). */
  unacked: Buffer[];
  /** Set once the shell exited while detached: told on reattach. */
  exit: { exitCode: number | null; signal: number | null } | null;
  graceTimer: NodeJS.Timeout | null;
}

export const DEFAULT_MAX_PTY_SESSIONS = 32;
/** Longer than a cluster's failover (a dead node's devices read offline after ~20 s) plus the agent's reconnect. */
export const DEFAULT_DETACHED_GRACE_MS = 60_000;

const require = createRequire(import.meta.url);
let nodePty: typeof NodePty | undefined;

/**
 * node-pty's native module costs an agent ~3 MB of resident memory from the moment it loads:
 * load it on the first shell, not at start (most agents never open one).
 */
function loadNodePty(): typeof NodePty {
  nodePty ??= require('node-pty') as typeof NodePty;
  return nodePty;
}

/**
 * The device's interactive sessions: one node-pty per stream id, its output held back by a
 * {@link FlowWindow} so a flood (`yes`) waits in the kernel's PTY buffer, not in our memory.
 */
export class PtySessions {
  /** Attached sessions by stream id. */
  private readonly sessions = new Map<number, Session>();
  /** Sessions opened with a backend session id, attached or not. */
  private readonly bySessionId = new Map<string, Session>();
  private readonly all = new Set<Session>();

  private config: ShellConfig;

  constructor(private readonly opts: PtySessionsOptions) {
    this.config = opts.config;
  }

  /** Applies to sessions opened from now on; open ones keep the shell and user they started with. */
  setConfig(config: ShellConfig): void {
    this.config = config;
  }

  get size(): number {
    return this.all.size;
  }

  open(params: AgentParams<'shell.open'>): AgentResult<'shell.open'> {
    const { config } = this;
    if (this.sessions.has(params.streamId)) throw new TetherError('CONFLICT', 'The stream already has a session');
    if (params.sessionId !== undefined && this.bySessionId.has(params.sessionId)) throw new TetherError('CONFLICT', 'The session is open already');
    if (this.all.size >= (this.opts.maxSessions ?? DEFAULT_MAX_PTY_SESSIONS)) throw new TetherError('SHELL_LIMIT');
    let pty: IPty;
    try {
      pty = loadNodePty().spawn(config.shell, config.args, {
        name: 'xterm-256color',
        cols: params.cols,
        rows: params.rows,
        cwd: config.cwd,
        env: { ...process.env, TERM: 'xterm-256color', COLORTERM: 'truecolor' },
        uid: config.uid,
        gid: config.gid,
        // Raw bytes: the backend and the console decode, so a split UTF-8 sequence is never mangled here.
        encoding: null,
      });
    } catch (cause) {
      throw new TetherError('SPAWN_FAILED', cause instanceof Error ? cause.message : String(cause));
    }
    const window = new FlowWindow(this.opts.highWaterBytes, this.opts.lowWaterBytes);
    const session: Session = { pty, window, sessionId: params.sessionId, streamId: params.streamId, sent: 0, acked: 0, unacked: [], exit: null, graceTimer: null };
    this.sessions.set(params.streamId, session);
    if (params.sessionId !== undefined) this.bySessionId.set(params.sessionId, session);
    this.all.add(session);
    const output = new OutputCoalescer({
      emit: (bytes) => {
        // Counted and kept whether or not the channel is up: a reattach resends what the backend lacks.
        session.sent += bytes.length;
        session.unacked.push(bytes);
        if (window.sent(bytes.length)) pty.pause();
        if (session.streamId !== null) this.opts.send(session.streamId, bytes);
      },
    });
    pty.onData((chunk: string | Buffer) => output.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk));
    pty.onExit(({ exitCode, signal }) => {
      if (!this.all.has(session)) return;
      // The last output must reach the backend before the exit event ends its stream.
      output.flush();
      if (session.streamId === null) {
        session.exit = { exitCode, signal: signal ?? null };
        return;
      }
      this.forget(session);
      this.opts.emitExit(session.streamId, exitCode, signal ?? null);
    });
    this.opts.log.info({ streamId: params.streamId, pid: pty.pid }, 'shell session opened');
    return { pid: pty.pid, shell: config.shell };
  }

  /** Input from the console; bytes for a stream without a session are dropped. */
  write(streamId: number, data: Buffer): void {
    this.sessions.get(streamId)?.pty.write(data);
  }

  resize(params: AgentParams<'shell.resize'>): AgentResult<'shell.resize'> {
    const session = this.sessions.get(params.streamId);
    if (!session) throw new TetherError('NOT_FOUND', 'No shell on this stream');
    session.pty.resize(params.cols, params.rows);
    return {};
  }

  ack(streamId: number, bytes: number): void {
    const session = this.sessions.get(streamId);
    if (session) this.acknowledge(session, bytes);
  }

  /**
   * Binds a detached session (or an attached one, whose backend lost its stream) to a new stream
   * on the current channel: records the console's acknowledgements the backend holds, resends
   * the output from `received` (the bytes the backend has) on, and reports an exit that happened
   * meanwhile. NOT_FOUND when the session ended or its grace ran out.
   */
  reattach(params: AgentParams<'shell.reattach'>): AgentResult<'shell.reattach'> {
    const session = this.bySessionId.get(params.sessionId);
    if (!session) throw new TetherError('NOT_FOUND', 'No such shell session on this device');
    if (params.acked > params.received || params.received > session.sent || params.received < session.acked) {
      throw new TetherError('BAD_REQUEST', `Offsets out of range: the device produced ${session.sent} bytes, ${session.acked} of them acknowledged`);
    }
    if (this.sessions.has(params.streamId) && this.sessions.get(params.streamId) !== session) throw new TetherError('CONFLICT', 'The stream already has a session');
    if (session.graceTimer) clearTimeout(session.graceTimer);
    session.graceTimer = null;
    if (session.streamId !== null) this.sessions.delete(session.streamId);
    session.streamId = params.streamId;
    this.sessions.set(params.streamId, session);
    this.acknowledge(session, params.acked - session.acked);
    const resend = Buffer.concat(session.unacked).subarray(params.received - session.acked);
    if (resend.length > 0) this.opts.send(params.streamId, resend);
    this.opts.log.info({ streamId: params.streamId, resent: resend.length }, 'shell session reattached');
    if (session.exit) {
      this.forget(session);
      this.opts.emitExit(params.streamId, session.exit.exitCode, session.exit.signal);
    }
    return { pid: session.pty.pid, resent: resend.length };
  }

  close(streamId: number): boolean {
    const session = this.sessions.get(streamId);
    if (!session) return false;
    this.forget(session);
    this.kill(session);
    return true;
  }

  /**
   * The control channel dropped. Sessions opened with a backend session id wait detached (their
   * output paused at the window) for `detachedGraceMs`, for their backend session to reattach them
   * through the next channel; the others end now, since nobody can see them any more.
   */
  detachAll(): void {
    const grace = this.opts.detachedGraceMs ?? DEFAULT_DETACHED_GRACE_MS;
    for (const session of this.all) {
      if (session.streamId !== null) this.sessions.delete(session.streamId);
      session.streamId = null;
      if (session.sessionId === undefined) {
        this.forget(session);
        this.kill(session);
      } else {
        session.graceTimer ??= setTimeout(() => {
          this.opts.log.info({ pid: session.pty.pid }, 'detached shell session not reattached in time; ended');
          this.forget(session);
          this.kill(session);
        }, grace);
      }
    }
  }

  /** The agent is stopping: every session ends. */
  closeAll(): void {
    for (const session of [...this.all]) {
      this.forget(session);
      this.kill(session);
    }
  }

  private acknowledge(session: Session, bytes: number): void {
    const take = Math.min(bytes, session.sent - session.acked);
    if (take <= 0) return;
    session.acked += take;
    trimFront(session.unacked, take);
    if (session.window.acked(take)) session.pty.resume();
  }

  private forget(session: Session): void {
    if (session.graceTimer) clearTimeout(session.graceTimer);
    session.graceTimer = null;
    this.all.delete(session);
    if (session.streamId !== null && this.sessions.get(session.streamId) === session) this.sessions.delete(session.streamId);
    if (session.sessionId !== undefined && this.bySessionId.get(session.sessionId) === session) this.bySessionId.delete(session.sessionId);
  }

  private kill(session: Session): void {
    try {
      // The shell's whole process group: a foreground job must not outlive its terminal.
      process.kill(-session.pty.pid, 'SIGHUP');
    } catch {
      // already gone
    }
    try {
      session.pty.kill('SIGHUP');
    } catch {
      // already gone
    }
  }
}
