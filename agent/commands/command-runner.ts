import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import { TetherError } from '../../protocol/errors.js';
import type { AgentParams, AgentResult } from '../../protocol/methods.js';
import type { CommandOutcome } from '../../protocol/shell.js';

export interface CommandExit {
  stdoutStreamId: number;
  outcome: CommandOutcome;
  exitCode: number | null;
  signal: string | null;
  truncated: boolean;
  error?: string;
}

export interface CommandRunnerOptions {
  send(streamId: number, data: Uint8Array): boolean;
  emitExit(exit: CommandExit): void;
  log: Logger;
  /** Output forwarded per command (stdout + stderr); the rest is read and dropped so the process never blocks on a full pipe. */
  maxOutputBytes?: number;
  maxRunning?: number;
  /** Between SIGTERM to the process group and SIGKILL. */
  killGraceMs?: number;
}

interface Running {
  child: ChildProcess;
  stopping: CommandOutcome | null;
  timer: NodeJS.Timeout;
  killTimer: NodeJS.Timeout | null;
}

export const DEFAULT_MAX_OUTPUT_BYTES = 4 * 1024 * 1024;
export const DEFAULT_MAX_RUNNING = 64;

/**
 * Runs one-off commands, each detached into its own process group so a timeout or cancel
 * kills the whole tree (a shell's background children too), not just the direct child.
 */
export class CommandRunner {
  private readonly running = new Map<number, Running>();

  constructor(private readonly opts: CommandRunnerOptions) {}

  get size(): number {
    return this.running.size;
  }

  start(params: AgentParams<'command.start'>): AgentResult<'command.start'> {
    if (this.running.has(params.stdoutStreamId)) throw new TetherError('CONFLICT', 'The stream already has a command');
    if (this.running.size >= (this.opts.maxRunning ?? DEFAULT_MAX_RUNNING)) throw new TetherError('RATE_LIMITED', 'Too many commands running');
    const [file, args] = 'shell' in params.command ? ['/bin/sh', ['-c', params.command.shell]] : [params.command.argv[0] ?? '', params.command.argv.slice(1)];
    let child: ChildProcess;
    try {
      child = spawn(file, args, {
        cwd: params.cwd,
        env: { ...process.env, ...params.env },
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (cause) {
      throw new TetherError('SPAWN_FAILED', cause instanceof Error ? cause.message : String(cause));
    }
    const pid = child.pid;
    if (pid === undefined) {
      // uv_spawn failed (no such file, bad cwd): 'error' follows; swallow it, the caller has the answer.
      child.on('error', () => undefined);
      throw new TetherError('SPAWN_FAILED', `Cannot start ${file}${params.cwd ? ` in ${params.cwd}` : ''}`);
    }
    const budget = this.opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    let forwarded = 0;
    let truncated = false;
    const forward = (streamId: number) => (chunk: Buffer) => {
      const room = budget - forwarded;
      if (room <= 0) {
        truncated = true;
        return;
      }
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      if (part.length < chunk.length) truncated = true;
      forwarded += part.length;
      this.opts.send(streamId, part);
    };
    child.stdout?.on('data', forward(params.stdoutStreamId));
    child.stderr?.on('data', forward(params.stderrStreamId));
    const entry: Running = {
      child,
      stopping: null,
      timer: setTimeout(() => this.stop(params.stdoutStreamId, 'timed_out'), params.timeoutMs),
      killTimer: null,
    };
    this.running.set(params.stdoutStreamId, entry);
    let spawnError: string | undefined;
    child.on('error', (err) => {
      spawnError = err.message;
    });
    // 'close', not 'exit': all output has been read by then, so the exit event follows the last byte.
    child.on('close', (code, signal) => {
      clearTimeout(entry.timer);
      if (entry.killTimer) clearTimeout(entry.killTimer);
      this.running.delete(params.stdoutStreamId);
      this.opts.emitExit({
        stdoutStreamId: params.stdoutStreamId,
        outcome: entry.stopping ?? 'exited',
        exitCode: code,
        signal,
        truncated,
        ...(spawnError ? { error: spawnError.slice(0, 4096) } : {}),
      });
    });
    this.opts.log.info({ stream: params.stdoutStreamId, pid }, 'command started');
    return { pid };
  }

  cancel(stdoutStreamId: number): boolean {
    return this.stop(stdoutStreamId, 'cancelled');
  }

  /** The control channel dropped: nobody will read these results. */
  cancelAll(): void {
    for (const id of [...this.running.keys()]) this.stop(id, 'cancelled');
  }

  private stop(stdoutStreamId: number, outcome: CommandOutcome): boolean {
    const entry = this.running.get(stdoutStreamId);
    if (!entry || entry.stopping) return false;
    entry.stopping = outcome;
    clearTimeout(entry.timer);
    this.signalGroup(entry.child, 'SIGTERM');
    entry.killTimer = setTimeout(() => this.signalGroup(entry.child, 'SIGKILL'), this.opts.killGraceMs ?? 2_000);
    return true;
  }

  private signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // the group is already gone
    }
  }
}
