import { createRequire } from 'node:module';
import type * as NodePty from 'node-pty';
import type { IPty } from 'node-pty';
import type { Logger } from 'pino';
import { TetherError } from '../../protocol/errors.js';
import type { AgentParams, AgentResult } from '../../protocol/methods.js';
import { FlowWindow } from './flow-window.js';
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
}

interface Session {
  pty: IPty;
  window: FlowWindow;
}

export const DEFAULT_MAX_PTY_SESSIONS = 32;

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
  private readonly sessions = new Map<number, Session>();

  private config: ShellConfig;

  constructor(private readonly opts: PtySessionsOptions) {
    this.config = opts.config;
  }

  /** Applies to sessions opened from now on; open ones keep the shell and user they started with. */
  setConfig(config: ShellConfig): void {
    this.config = config;
  }

  get size(): number {
    return this.sessions.size;
  }

  open(params: AgentParams<'shell.open'>): AgentResult<'shell.open'> {
    const { config } = this;
    if (this.sessions.has(params.streamId)) throw new TetherError('CONFLICT', 'The stream already has a session');
    if (this.sessions.size >= (this.opts.maxSessions ?? DEFAULT_MAX_PTY_SESSIONS)) throw new TetherError('SHELL_LIMIT');
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
    const session: Session = { pty, window };
    this.sessions.set(params.streamId, session);
    const output = new OutputCoalescer({
      emit: (bytes) => {
        if (!this.opts.send(params.streamId, bytes)) return;
        if (window.sent(bytes.length)) pty.pause();
      },
    });
    pty.onData((chunk: string | Buffer) => output.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk));
    pty.onExit(({ exitCode, signal }) => {
      if (this.sessions.get(params.streamId) !== session) return;
      // The last output must reach the backend before the exit event ends its stream.
      output.flush();
      this.sessions.delete(params.streamId);
      this.opts.emitExit(params.streamId, exitCode, signal ?? null);
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
    if (session && session.window.acked(bytes)) session.pty.resume();
  }

  close(streamId: number): boolean {
    const session = this.sessions.get(streamId);
    if (!session) return false;
    this.sessions.delete(streamId);
    this.kill(session);
    return true;
  }

  /** The control channel dropped: nobody can see these sessions any more. */
  closeAll(): void {
    for (const session of this.sessions.values()) this.kill(session);
    this.sessions.clear();
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
