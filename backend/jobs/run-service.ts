import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { SHELL_AGENT_EVENTS, TetherError, type CommandRequest, type Run, type RunState } from '../../protocol/index.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { DeviceRouter } from '../devices/device-router.js';
import type { DeviceStream } from '../devices/link-streams.js';
import type { RunEnd, RunRepo } from './run-repo.js';

export interface RunServiceDeps {
  router: DeviceRouter;
  repo: RunRepo;
  audit: AuditLog;
  log: Logger;
  /** Output kept per stream (stdout, stderr) and run; the agent bounds what it sends too. */
  maxStoredBytes?: number;
  now?: () => number;
}

export const DEFAULT_MAX_STORED_BYTES = 1024 * 1024;
/** How long past its own timeout the backend waits for a command's exit before giving up on the device. */
const EXIT_SLACK_MS = 15_000;
/** A busy device (or a thousand simulated ones in one process) may take a while to fork. */
const START_TIMEOUT_MS = 30_000;

interface Output {
  chunks: Buffer[];
  bytes: number;
}

interface LiveRun {
  runId: string;
  deviceId: string;
  stdout: DeviceStream | null;
  stderr: DeviceStream | null;
  out: Output;
  err: Output;
  truncated: boolean;
  cancelRequested: boolean;
  settled: boolean;
  timer: NodeJS.Timeout | null;
  resolve(state: RunState): void;
}

/**
 * Runs one command on one device: streams stdout and stderr live from the agent, keeps them
 * (bounded), and records the final state. Jobs use it for each of their devices.
 */
export class RunService {
  private readonly live = new Map<string, LiveRun>();
  private readonly byStream = new Map<string, LiveRun>();
  private readonly unsubscribe: () => void;
  private readonly maxStored: number;
  private readonly now: () => number;

  constructor(private readonly deps: RunServiceDeps) {
    this.maxStored = deps.maxStoredBytes ?? DEFAULT_MAX_STORED_BYTES;
    this.now = deps.now ?? Date.now;
    this.unsubscribe = deps.router.subscribe('*', (deviceId, name, data) => {
      if (name !== 'command.exit') return;
      const exit = SHELL_AGENT_EVENTS['command.exit'].safeParse(data);
      if (!exit.success) return;
      // Looked up by the sending device: a device can only end its own runs.
      const run = this.byStream.get(`${deviceId}:${exit.data.stdoutStreamId}`);
      if (!run) return;
      const e = exit.data;
      const state: RunState = e.outcome === 'timed_out' ? 'timed_out' : e.outcome === 'cancelled' ? 'cancelled' : e.outcome === 'exited' && e.exitCode === 0 ? 'succeeded' : 'failed';
      if (e.truncated) run.truncated = true;
      this.settle(run, state, e.exitCode, e.signal, e.error ?? null);
    });
  }

  /** A single command from a user: recorded, audited, started; resolves at once or, with `wait`, when final. */
  async runOne(actor: string, deviceId: string, command: CommandRequest, wait: boolean): Promise<Run> {
    const id = randomUUID();
    this.deps.repo.insertRun({ id, jobId: null, deviceId, command, batch: null, createdBy: actor, createdAt: this.now() });
    this.deps.audit.record(actor, 'command.run', deviceId, { runId: id, command: command.command, cwd: command.cwd, timeoutMs: command.timeoutMs });
    const { done, started } = this.begin(id, deviceId, command);
    await (wait ? done : Promise.race([done, started]));
    return this.view(id);
  }

  /** Runs a queued run to its end; never rejects (a failure is a final state). */
  execute(runId: string, deviceId: string, command: CommandRequest): Promise<RunState> {
    return this.begin(runId, deviceId, command).done;
  }

  /** `started` resolves once the device has answered the start request (or the run already ended). */
  private begin(runId: string, deviceId: string, command: CommandRequest): { done: Promise<RunState>; started: Promise<void> } {
    let markStarted: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (markStarted = resolve));
    const done = new Promise<RunState>((resolve) => {
      const run: LiveRun = {
        runId, deviceId, stdout: null, stderr: null, out: { chunks: [], bytes: 0 }, err: { chunks: [], bytes: 0 },
        truncated: false, cancelRequested: false, settled: false, timer: null, resolve,
      };
      this.live.set(runId, run);
      try {
        const onLinkClosed = () => this.settle(run, run.cancelRequested ? 'cancelled' : 'failed', null, null, 'DEVICE_OFFLINE: the device disconnected');
        run.stdout = this.deps.router.openStream(deviceId, { onData: (d) => this.keep(run, run.out, d), onLinkClosed });
        run.stderr = this.deps.router.openStream(deviceId, { onData: (d) => this.keep(run, run.err, d), onLinkClosed: () => undefined });
      } catch (err) {
        this.settle(run, 'failed', null, null, describe(err));
        return;
      }
      this.byStream.set(`${deviceId}:${run.stdout.id}`, run);
      this.deps.repo.markRunning(runId, this.now());
      run.timer = setTimeout(() => this.settle(run, 'failed', null, null, 'REQUEST_TIMEOUT: the device never reported the end'), command.timeoutMs + EXIT_SLACK_MS);
      this.deps.router
        .request(deviceId, 'command.start', { ...command, stdoutStreamId: run.stdout.id, stderrStreamId: run.stderr.id }, START_TIMEOUT_MS)
        .then(markStarted, (err: unknown) => this.settle(run, 'failed', null, null, describe(err)));
    });
    void done.then(markStarted);
    return { done, started };
  }

  /** Asks the device to kill the run's process tree; the run becomes `cancelled` when the device confirms. */
  async cancel(runId: string, actor: string): Promise<boolean> {
    const run = this.live.get(runId);
    if (!run || run.settled) return false;
    run.cancelRequested = true;
    this.deps.audit.record(actor, 'command.cancel', run.deviceId, { runId });
    if (!run.stdout) return false;
    try {
      await this.deps.router.request(run.deviceId, 'command.cancel', { stdoutStreamId: run.stdout.id });
    } catch (err) {
      this.settle(run, 'cancelled', null, null, describe(err));
    }
    return true;
  }

  /** The stored run, with the output so far while it is live. */
  view(runId: string): Run {
    const stored = this.deps.repo.findRun(runId);
    if (!stored) throw new TetherError('NOT_FOUND', 'No such run');
    return this.withLiveOutput(stored);
  }

  /** A run already read from the store, with the output so far while it is live (lists read their rows once). */
  withLiveOutput(stored: Run): Run {
    const run = this.live.get(stored.id);
    if (!run) return stored;
    return { ...stored, stdout: Buffer.concat(run.out.chunks).toString('utf8'), stderr: Buffer.concat(run.err.chunks).toString('utf8'), truncated: run.truncated };
  }

  close(): void {
    this.unsubscribe();
    for (const run of [...this.live.values()]) this.settle(run, 'cancelled', null, null, 'The backend is shutting down');
  }

  private keep(run: LiveRun, output: Output, data: Buffer): void {
    const room = this.maxStored - output.bytes;
    if (room <= 0) {
      run.truncated = true;
      return;
    }
    const part = data.length > room ? data.subarray(0, room) : data;
    if (part.length < data.length) run.truncated = true;
    output.chunks.push(part);
    output.bytes += part.length;
  }

  private settle(run: LiveRun, state: RunState, exitCode: number | null, signal: string | null, error: string | null): void {
    if (run.settled) return;
    run.settled = true;
    if (run.timer) clearTimeout(run.timer);
    run.stdout?.close();
    run.stderr?.close();
    if (run.stdout) this.byStream.delete(`${run.deviceId}:${run.stdout.id}`);
    const end: RunEnd = {
      state, exitCode, signal, error, truncated: run.truncated, endedAt: this.now(),
      stdout: Buffer.concat(run.out.chunks), stderr: Buffer.concat(run.err.chunks),
    };
    this.deps.repo.endRun(run.runId, end);
    this.live.delete(run.runId);
    this.deps.log.info({ runId: run.runId, deviceId: run.deviceId, state, exitCode }, 'run ended');
    run.resolve(state);
  }
}

function describe(err: unknown): string {
  if (err instanceof TetherError) return `${err.code}: ${err.message}`;
  if (err instanceof Error && 'code' in err && typeof err.code === 'string') return `${err.code}: ${err.message}`;
  return String(err);
}
