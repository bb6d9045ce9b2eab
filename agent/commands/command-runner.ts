import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import { trimFront } from '../../channel/chunk-queue.js';
import { TetherError } from '../../protocol/errors.js';
import type { AgentParams, AgentResult } from '../../protocol/methods.js';
import type { CommandOutcome } from '../../protocol/shell.js';
import { DEFAULT_DETACHED_GRACE_MS } from '../shell/pty-sessions.js';

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
  /** How long a command started with a run id waits, its control channel dropped, for its run to reattach. */
  detachedGraceMs?: number;
  /** Output kept per stream of a command with a run id, for a resend after a reattach (the latest bytes). */
  keepBytes?: number;
}

/** One of a command's two output streams. */
interface Output {
  id: number;
  /** Bytes forwarded so far (within the output budget), sent or not. */
  sent: number;
  /** The latest of them (a command with a run id only), resent from where the backend's copy ends after a reattach. */
  kept: Buffer[];
  keptBytes: number;
}

interface Running {
  child: ChildProcess;
  /** The backend's run id: a command started with one outlives its control channel for a while. */
  runId: string | undefined;
  stdout: Output;
  stderr: Output;
  /** The control channel dropped: output is counted and kept, not sent, until a reattach. */
  detached: boolean;
  truncated: boolean;
  stopping: CommandOutcome | null;
  /** The command ended while detached: reported on reattach. */
  exit: Omit<CommandExit, 'stdoutStreamId'> | null;
  timer: NodeJS.Timeout;
  killTimer: NodeJS.Timeout | null;
  graceTimer: NodeJS.Timeout | null;
}

export const DEFAULT_MAX_OUTPUT_BYTES = 4 * 1024 * 1024;
export const DEFAULT_MAX_RUNNING = 64;
export const DEFAULT_KEEP_BYTES = 256 * 1024;

/**
 * Runs one-off commands, each detached into its own process group so a timeout or cancel
 * kills the whole tree (a shell's background children too), not just the direct child.
 * A command started with a run id survives its control channel dropping: it runs on, its latest
 * output kept, and `reattach` binds it to the next channel's streams.
 */
export class CommandRunner {
  /** Attached commands by stdout stream id. */
  private readonly byStream = new Map<number, Running>();
  /** Commands started with a run id, attached or not, running or ended while detached. */
  private readonly byRun = new Map<string, Running>();
  private readonly all = new Set<Running>();

  constructor(private readonly opts: CommandRunnerOptions) {}

  /** Commands whose process is running. */
  get size(): number {
    let running = 0;
    for (const entry of this.all) if (!entry.exit) running++;
    return running;
  }

  start(params: AgentParams<'command.start'>): AgentResult<'command.start'> {
    if (this.byStream.has(params.stdoutStreamId)) throw new TetherError('CONFLICT', 'The stream already has a command');
    if (params.runId !== undefined && this.byRun.has(params.runId)) throw new TetherError('CONFLICT', 'The run has a command already');
    if (this.size >= (this.opts.maxRunning ?? DEFAULT_MAX_RUNNING)) throw new TetherError('RATE_LIMITED', 'Too many commands running');
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
    const output = (id: number): Output => ({ id, sent: 0, kept: [], keptBytes: 0 });
    const entry: Running = {
      child, runId: params.runId, stdout: output(params.stdoutStreamId), stderr: output(params.stderrStreamId),
      detached: false, truncated: false, stopping: null, exit: null,
      timer: setTimeout(() => this.stop(entry, 'timed_out'), params.timeoutMs), killTimer: null, graceTimer: null,
    };
    const budget = this.opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    let forwarded = 0;
    const forward = (out: Output) => (chunk: Buffer) => {
      const room = budget - forwarded;
      if (room <= 0) {
        entry.truncated = true;
        return;
      }
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      if (part.length < chunk.length) entry.truncated = true;
      forwarded += part.length;
      out.sent += part.length;
      if (entry.runId !== undefined) this.keep(out, part);
      if (!entry.detached) this.opts.send(out.id, part);
    };
    child.stdout?.on('data', forward(entry.stdout));
    child.stderr?.on('data', forward(entry.stderr));
    this.byStream.set(params.stdoutStreamId, entry);
    if (params.runId !== undefined) this.byRun.set(params.runId, entry);
    this.all.add(entry);
    let spawnError: string | undefined;
    child.on('error', (err) => {
      spawnError = err.message;
    });
    // 'close', not 'exit': all output has been read by then, so the exit event follows the last byte.
    child.on('close', (code, signal) => {
      clearTimeout(entry.timer);
      if (entry.killTimer) clearTimeout(entry.killTimer);
      if (!this.all.has(entry)) return;
      const exit = {
        outcome: entry.stopping ?? 'exited',
        exitCode: code,
        signal,
        truncated: entry.truncated,
        ...(spawnError ? { error: spawnError.slice(0, 4096) } : {}),
      } satisfies Omit<CommandExit, 'stdoutStreamId'>;
      if (entry.detached) {
        // Nobody to tell yet: kept (with the output) for the reattach until the grace ends.
        entry.exit = exit;
        return;
      }
      this.forget(entry);
      this.opts.emitExit({ stdoutStreamId: entry.stdout.id, ...exit });
    });
    this.opts.log.info({ stream: params.stdoutStreamId, pid, runId: params.runId }, 'command started');
    return { pid };
  }

  /**
   * Stops the command on a stream, or the one started with a run id. A detached one is forgotten
   * too: its run has ended on the backend, and nothing will reattach it.
   */
  cancel(target: AgentParams<'command.cancel'>): boolean {
    const entry = 'runId' in target ? this.byRun.get(target.runId) : this.byStream.get(target.stdoutStreamId);
    if (!entry) return false;
    const stopped = this.stop(entry, 'cancelled');
    if (entry.detached) this.forget(entry);
    return stopped;
  }

  /**
   * Binds a command started with a run id to two streams on the current channel: resends what
   * the backend lacks of each stream (from `received` on, as far as the kept output reaches back;
   * `gap` counts what it no longer had) and reports an exit that happened meanwhile.
   * NOT_FOUND when the command ended and was reported, or its grace ran out.
   */
  reattach(params: AgentParams<'command.reattach'>): AgentResult<'command.reattach'> {
    const entry = this.byRun.get(params.runId);
    if (!entry) throw new TetherError('NOT_FOUND', 'No such command on this device');
    if (params.received.stdout > entry.stdout.sent || params.received.stderr > entry.stderr.sent) {
      throw new TetherError('BAD_REQUEST', `Offsets out of range: the device produced ${entry.stdout.sent} bytes of stdout and ${entry.stderr.sent} of stderr`);
    }
    const holder = this.byStream.get(params.stdoutStreamId);
    if (holder && holder !== entry) throw new TetherError('CONFLICT', 'The stream already has a command');
    if (entry.graceTimer) clearTimeout(entry.graceTimer);
    entry.graceTimer = null;
    if (this.byStream.get(entry.stdout.id) === entry) this.byStream.delete(entry.stdout.id);
    entry.stdout.id = params.stdoutStreamId;
    entry.stderr.id = params.stderrStreamId;
    entry.detached = false;
    let resent = 0;
    let gap = 0;
    for (const [out, received] of [[entry.stdout, params.received.stdout], [entry.stderr, params.received.stderr]] as const) {
      const keptFrom = out.sent - out.keptBytes;
      gap += Math.max(0, keptFrom - received);
      const resend = Buffer.concat(out.kept).subarray(Math.max(0, received - keptFrom));
      if (resend.length > 0) this.opts.send(out.id, resend);
      resent += resend.length;
    }
    if (gap > 0) entry.truncated = true;
    this.opts.log.info({ runId: params.runId, resent, gap }, 'command reattached');
    if (entry.exit) {
      this.forget(entry);
      this.opts.emitExit({ stdoutStreamId: entry.stdout.id, ...entry.exit, truncated: entry.exit.truncated || gap > 0 });
    } else {
      this.byStream.set(entry.stdout.id, entry);
    }
    return { resent, gap };
  }

  /**
   * The control channel dropped. Commands started with a run id run on detached (their output
   * counted and kept) for `detachedGraceMs`, for their run to reattach them through the next
   * channel; the others are stopped, since nobody will read their results.
   */
  detachAll(): void {
    // As long as a shell's: longer than a cluster's failover plus the agent's reconnect.
    const grace = this.opts.detachedGraceMs ?? DEFAULT_DETACHED_GRACE_MS;
    for (const entry of this.all) {
      if (this.byStream.get(entry.stdout.id) === entry) this.byStream.delete(entry.stdout.id);
      if (entry.runId === undefined) {
        this.stop(entry, 'cancelled');
        continue;
      }
      entry.detached = true;
      entry.graceTimer ??= setTimeout(() => {
        this.opts.log.info({ runId: entry.runId }, 'detached command not reattached in time; ended');
        this.forget(entry);
        this.stop(entry, 'cancelled');
      }, grace);
    }
  }

  /** The agent is stopping: every command ends. */
  cancelAll(): void {
    for (const entry of [...this.all]) {
      this.forget(entry);
      this.stop(entry, 'cancelled');
    }
  }

  private keep(out: Output, part: Buffer): void {
    out.kept.push(part);
    out.keptBytes += part.length;
    const over = out.keptBytes - (this.opts.keepBytes ?? DEFAULT_KEEP_BYTES);
    if (over > 0) {
      trimFront(out.kept, over);
      out.keptBytes -= over;
    }
  }

  private forget(entry: Running): void {
    if (entry.graceTimer) clearTimeout(entry.graceTimer);
    entry.graceTimer = null;
    this.all.delete(entry);
    if (this.byStream.get(entry.stdout.id) === entry) this.byStream.delete(entry.stdout.id);
    if (entry.runId !== undefined && this.byRun.get(entry.runId) === entry) this.byRun.delete(entry.runId);
  }

  private stop(entry: Running, outcome: CommandOutcome): boolean {
    if (entry.stopping || entry.exit) return false;
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
