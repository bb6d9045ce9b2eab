import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { SHELL_AGENT_EVENTS, TetherError, type CommandRequest, type Run, type RunState } from '../../protocol/index.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { DeviceRouter } from '../devices/device-router.js';
import type { DeviceStream } from '../devices/link-streams.js';
import type { Stores } from '../store/stores.js';
import { relink } from '../devices/relink.js';
import type { FinalRunState, RunEnd } from './run-store.js';

export interface RunServiceDeps {
  router: DeviceRouter;
  stores: Stores;
  audit: AuditLog;
  log: Logger;
  /** Output kept per stream (stdout, stderr) and run; the agent bounds what it sends too. */
  maxStoredBytes?: number;
  now?: () => number;
  /** This process in a cluster (its node instance), recorded on what it runs so the leader can end it should the process die. */
  owner?: string;
  /** A cancel ended a run this service is not running: the node running it must stop it (a cluster). */
  onCancelledElsewhere?: (runId: string) => void;
  /** How long a run whose device link dropped waits for the device to come back and reattach the command. */
  relinkMs?: number;
}

export const DEFAULT_MAX_STORED_BYTES = 1024 * 1024;
/** How long past its own timeout the backend waits for a command's exit before giving up on the device. */
const EXIT_SLACK_MS = 15_000;
/** A busy device (or a thousand simulated ones in one process) may take a while to fork. */
const START_TIMEOUT_MS = 30_000;
/** As for shells: a cluster's failover (a dead node's devices read offline after ~20 s) plus the agent's reconnect. */
export const DEFAULT_RUN_RELINK_MS = 45_000;

/** A run ended before any output: nothing ran, or nothing ran here. */
const EMPTY_END: Omit<RunEnd, 'state' | 'endedAt'> = { exitCode: null, signal: null, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), truncated: false, error: null };

interface Output {
  chunks: Buffer[];
  /** Bytes kept (at most maxStoredBytes). */
  bytes: number;
  /** Bytes received from the device, kept or not: where a reattach asks the agent to resend from. */
  received: number;
}

interface LiveRun {
  runId: string;
  deviceId: string;
  stdout: DeviceStream | null;
  stderr: DeviceStream | null;
  out: Output;
  err: Output;
  truncated: boolean;
  /** Claimed by whatever ends the run first in this process (exit, timeout, cancel, shutdown). */
  settled: boolean;
  /** Set while the device's link is gone and the run waits to reattach its command. */
  relinking: boolean;
  /** The streams of a reattach in flight were lost too (their link closed before the answer): try again. */
  lostWhileRelinking: boolean;
  timer: NodeJS.Timeout | null;
  resolve(state: RunState): void;
}

/**
 * Runs one command on one device: streams stdout and stderr live from the agent, keeps them
 * (bounded, in memory while the run lives: appending costs no write), and records the final state
 * once. Whoever ends a run (the device's exit, a timeout, a cancel, another backend) does so with
 * one conditional update; the others learn they lost and write nothing.
 */
export class RunService {
  private readonly live = new Map<string, LiveRun>();
  private readonly byStream = new Map<string, LiveRun>();
  /** Final states being written, so close() can wait for them before the store closes. */
  private readonly writing = new Set<Promise<void>>();
  private readonly unsubscribe: () => void;
  private readonly maxStored: number;
  private readonly relinkMs: number;
  private readonly now: () => number;
  /** Set by close(): cancels still waiting for their device stop waiting. */
  private closing = false;

  constructor(private readonly deps: RunServiceDeps) {
    this.maxStored = deps.maxStoredBytes ?? DEFAULT_MAX_STORED_BYTES;
    this.relinkMs = deps.relinkMs ?? DEFAULT_RUN_RELINK_MS;
    this.now = deps.now ?? Date.now;
    this.unsubscribe = deps.router.subscribe('*', (deviceId, name, data) => {
      if (name !== 'command.exit') return;
      const exit = SHELL_AGENT_EVENTS['command.exit'].safeParse(data);
      if (!exit.success) return;
      // Looked up by the sending device: a device can only end its own runs.
      const run = this.byStream.get(`${deviceId}:${exit.data.stdoutStreamId}`);
      if (!run) return;
      const e = exit.data;
      const state: FinalRunState = e.outcome === 'timed_out' ? 'timed_out' : e.outcome === 'cancelled' ? 'cancelled' : e.outcome === 'exited' && e.exitCode === 0 ? 'succeeded' : 'failed';
      if (e.truncated) run.truncated = true;
      this.settle(run, state, e.exitCode, e.signal, e.error ?? null);
    });
  }

  /** A single command from a user: recorded and audited together, started; resolves at once or, with `wait`, when final. */
  async runOne(actor: string, deviceId: string, command: CommandRequest, wait: boolean): Promise<Run> {
    const id = randomUUID();
    await this.deps.stores.transaction(async (tx) => {
      await tx.runs.insertRun({ id, jobId: null, deviceId, command, batch: null, createdBy: actor, createdAt: this.now(), owner: this.deps.owner });
      await this.deps.audit.record(actor, 'command.run', deviceId, { runId: id, command: command.command, cwd: command.cwd, timeoutMs: command.timeoutMs }, tx);
    });
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
    let resolveDone: (state: RunState) => void = () => undefined;
    const done = new Promise<RunState>((resolve) => (resolveDone = resolve));
    // Live before the first await, so a cancel that comes meanwhile finds it.
    const run: LiveRun = {
      runId, deviceId, stdout: null, stderr: null, out: { chunks: [], bytes: 0, received: 0 }, err: { chunks: [], bytes: 0, received: 0 },
      truncated: false, settled: false, relinking: false, lostWhileRelinking: false, timer: null, resolve: resolveDone,
    };
    this.live.set(runId, run);
    void done.then(markStarted);
    void this.start(run, command, markStarted).catch((err: unknown) => this.settle(run, 'failed', null, null, describe(err)));
    return { done, started };
  }

  private async start(run: LiveRun, command: CommandRequest, markStarted: () => void): Promise<void> {
    const running = await this.deps.stores.runs.markRunning(run.runId, this.now());
    if (run.settled) return;
    if (!running) {
      // Ended elsewhere while queued (its job was cancelled or aborted): nothing to start.
      run.settled = true;
      this.live.delete(run.runId);
      run.resolve((await this.deps.stores.runs.findRun(run.runId))?.state ?? 'cancelled');
      return;
    }
    let streams: { stdout: DeviceStream; stderr: DeviceStream };
    try {
      streams = await this.openStreams(run);
    } catch (err) {
      if (run.settled) this.release(run);
      else this.settle(run, 'failed', null, null, describe(err));
      return;
    }
    if (run.settled) {
      // Cancelled while the streams were opening (across the bus, that takes a round trip).
      this.release(run);
      return;
    }
    run.timer = setTimeout(() => this.settle(run, 'failed', null, null, 'REQUEST_TIMEOUT: the device never reported the end'), command.timeoutMs + EXIT_SLACK_MS);
    this.deps.router
      .request(run.deviceId, 'command.start', { ...command, stdoutStreamId: streams.stdout.id, stderrStreamId: streams.stderr.id, runId: run.runId }, START_TIMEOUT_MS)
      .then(markStarted, (err: unknown) => {
        // The link dropped under the start: the relink finds out from the agent whether it started.
        if (!run.relinking) this.settle(run, 'failed', null, null, describe(err));
      });
  }

  /**
   * Opens the run's stdout and stderr streams on the device's current link, together (across the
   * bus each open is a round trip to the node holding the device). When one fails, the other is
   * closed and the failure thrown.
   */
  private async openStreams(run: LiveRun): Promise<{ stdout: DeviceStream; stderr: DeviceStream }> {
    const onLinkClosed = () => {
      if (run.relinking) run.lostWhileRelinking = true;
      else this.relinkRun(run);
    };
    const [stdout, stderr] = await Promise.allSettled([
      this.deps.router.openStream(run.deviceId, { onData: (d) => this.keep(run, run.out, d), onLinkClosed }),
      this.deps.router.openStream(run.deviceId, { onData: (d) => this.keep(run, run.err, d), onLinkClosed: () => undefined }),
    ]);
    if (stdout.status === 'rejected' || stderr.status === 'rejected') {
      if (stdout.status === 'fulfilled') stdout.value.close();
      if (stderr.status === 'fulfilled') stderr.value.close();
      throw stdout.status === 'rejected' ? stdout.reason : (stderr as PromiseRejectedResult).reason;
    }
    run.stdout = stdout.value;
    run.stderr = stderr.value;
    this.byStream.set(`${run.deviceId}:${stdout.value.id}`, run);
    return { stdout: stdout.value, stderr: stderr.value };
  }

  /**
   * The device's link dropped (its network, or in a cluster the node holding it died): the agent
   * keeps the command running, so wait for the device to come back through any node and reattach
   * it on new streams, from the output this run has. Fails the run (DEVICE_OFFLINE) if the device
   * is not back within relinkMs or no longer has the command.
   */
  private relinkRun(run: LiveRun): void {
    if (run.settled || run.relinking) return;
    run.relinking = true;
    this.closeStreams(run);
    this.deps.log.info({ runId: run.runId, deviceId: run.deviceId }, 'run lost its device link; waiting to reattach');
    void relink({
      router: this.deps.router,
      deviceId: run.deviceId,
      withinMs: this.relinkMs,
      now: this.now,
      wanted: () => !run.settled,
      attach: async () => {
        run.lostWhileRelinking = false;
        const { stdout, stderr } = await this.openStreams(run);
        try {
          const received = { stdout: run.out.received, stderr: run.err.received };
          const result = await this.deps.router.request(run.deviceId, 'command.reattach', { runId: run.runId, stdoutStreamId: stdout.id, stderrStreamId: stderr.id, received }, START_TIMEOUT_MS);
          this.deps.log.info({ runId: run.runId, result }, 'run reattached');
        } catch (err) {
          this.closeStreams(run);
          throw err;
        }
        if (!run.lostWhileRelinking) return true;
        this.closeStreams(run);
        return false;
      },
    }).then((result) => {
      if (result.kind === 'attached') run.relinking = false;
      else if (result.kind === 'expired') this.settle(run, 'failed', null, null, 'DEVICE_OFFLINE: the device did not come back');
      else if (result.kind === 'refused') this.settle(run, 'failed', null, null, `DEVICE_OFFLINE: the device came back without the command (${result.code})`);
    }, (err: unknown) => this.settle(run, 'failed', null, null, describe(err)));
  }

  /**
   * Cancels a run that is not final: the run becomes `cancelled` at once (with the output so far)
   * and the cancel is audited in the same transaction; then the device is told to kill the
   * process tree. False when the run had ended already: the end that came first stands.
   */
  async cancel(runId: string, actor: string): Promise<boolean> {
    const run = this.live.get(runId);
    if (run?.settled) return false;
    if (run) run.settled = true;
    let ended: Run | undefined;
    try {
      const end = run ? this.endOf(run, 'cancelled', null, null, null) : { ...EMPTY_END, state: 'cancelled' as const, endedAt: this.now() };
      const cancelling = this.deps.stores.transaction(async (tx) => {
        const cancelled = await tx.runs.endRun(runId, end);
        if (cancelled) await this.deps.audit.record(actor, 'command.cancel', cancelled.deviceId, { runId }, tx);
        return cancelled;
      });
      const writing = cancelling.then(() => undefined, () => undefined).finally(() => this.writing.delete(writing));
      this.writing.add(writing);
      ended = await cancelling;
    } catch (err) {
      // Nothing was written: the run goes on and can still end (or be cancelled) normally.
      if (run) run.settled = false;
      throw err;
    }
    if (!run && ended) this.deps.onCancelledElsewhere?.(runId);
    if (run) {
      if (ended && run.stdout) this.stopOnDevice(run);
      this.release(run);
      this.live.delete(runId);
      run.resolve(ended ? 'cancelled' : ((await this.deps.stores.runs.findRun(runId))?.state ?? 'cancelled'));
    }
    return ended !== undefined;
  }

  /**
   * Another node cancelled a run this one is running (its row is ended already): the device is
   * told to kill the command, and the run is let go without writing anything.
   */
  cancelledElsewhere(runId: string): void {
    const run = this.live.get(runId);
    if (!run || run.settled) return;
    run.settled = true;
    if (run.stdout) this.stopOnDevice(run);
    this.release(run);
    this.live.delete(runId);
    this.deps.log.info({ runId, deviceId: run.deviceId }, 'run cancelled on another node');
    run.resolve('cancelled');
  }

  /** The stored run, with the output so far while it is live. */
  async view(runId: string): Promise<Run> {
    const stored = await this.deps.stores.runs.findRun(runId);
    if (!stored) throw new TetherError('NOT_FOUND', 'No such run');
    return this.withLiveOutput(stored);
  }

  /** A device's runs, newest first, with live output. */
  async ofDevice(deviceId: string, limit: number): Promise<Run[]> {
    return (await this.deps.stores.runs.runsOfDevice(deviceId, limit)).map((r) => this.withLiveOutput(r));
  }

  /** A run already read from the store, with the output so far while it is live (lists read their rows once). */
  withLiveOutput(stored: Run): Run {
    const run = this.live.get(stored.id);
    if (!run) return stored;
    return { ...stored, stdout: Buffer.concat(run.out.chunks).toString('utf8'), stderr: Buffer.concat(run.err.chunks).toString('utf8'), truncated: run.truncated };
  }

  /**
   * Tells the device to kill a cancelled run's command, by its run id: at once, or, while the
   * device's link is down, once the device is back (within relinkMs). The agent keeps a command
   * whose channel dropped running for a while, waiting to be reattached: without this, a command
   * cancelled in that gap ran on until that wait ended.
   */
  private stopOnDevice(run: LiveRun): void {
    const { router, log } = this.deps;
    void relink({
      router,
      deviceId: run.deviceId,
      withinMs: this.relinkMs,
      now: this.now,
      wanted: () => !this.closing,
      attach: async () => {
        const answer = await router.request(run.deviceId, 'command.cancel', { runId: run.runId });
        log.info({ runId: run.runId, answer }, 'cancel delivered to the device');
        return true;
      },
    }).then((result) => {
      if (result.kind !== 'attached') log.info({ runId: run.runId, result }, 'the device did not confirm a cancel');
    });
  }

  /** Ends every live run as cancelled and waits until their states are written. */
  async close(): Promise<void> {
    this.closing = true;
    this.unsubscribe();
    for (const run of [...this.live.values()]) this.settle(run, 'cancelled', null, null, 'The backend is shutting down');
    await Promise.all([...this.writing]);
  }

  private keep(run: LiveRun, output: Output, data: Buffer): void {
    if (run.settled) return;
    output.received += data.length;
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

  private endOf(run: LiveRun, state: FinalRunState, exitCode: number | null, signal: string | null, error: string | null): RunEnd {
    return {
      state, exitCode, signal, error, truncated: run.truncated, endedAt: this.now(),
      stdout: Buffer.concat(run.out.chunks), stderr: Buffer.concat(run.err.chunks),
    };
  }

  /** Stops listening to the device for this run. */
  private release(run: LiveRun): void {
    if (run.timer) clearTimeout(run.timer);
    this.closeStreams(run);
  }

  private closeStreams(run: LiveRun): void {
    run.stdout?.close();
    run.stderr?.close();
    if (run.stdout && this.byStream.get(`${run.deviceId}:${run.stdout.id}`) === run) this.byStream.delete(`${run.deviceId}:${run.stdout.id}`);
  }

  private settle(run: LiveRun, state: FinalRunState, exitCode: number | null, signal: string | null, error: string | null): void {
    if (run.settled) return;
    run.settled = true;
    this.release(run);
    const end = this.endOf(run, state, exitCode, signal, error);
    const writing = this.write(run, end).finally(() => this.writing.delete(writing));
    this.writing.add(writing);
  }

  private async write(run: LiveRun, end: RunEnd): Promise<void> {
    let final: RunState = end.state;
    try {
      const ended = await this.deps.stores.runs.endRun(run.runId, end);
      // Lost: ended elsewhere first (a cancel on another backend, its job's end); that state stands.
      if (!ended) final = (await this.deps.stores.runs.findRun(run.runId))?.state ?? end.state;
    } catch (err) {
      this.deps.log.error({ err, runId: run.runId }, 'could not record the end of a run');
    }
    // Live until written, so a reader never sees a running row without its output.
    this.live.delete(run.runId);
    this.deps.log.info({ runId: run.runId, deviceId: run.deviceId, state: final, exitCode: end.exitCode }, 'run ended');
    run.resolve(final);
  }
}


function describe(err: unknown): string {
  if (err instanceof TetherError) return `${err.code}: ${err.message}`;
  if (err instanceof Error && 'code' in err && typeof err.code === 'string') return `${err.code}: ${err.message}`;
  return String(err);
}
