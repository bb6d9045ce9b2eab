import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { TetherError, type CommandRequest, type Device, type DeviceSelection, type Job, type JobCreateRequest, type JobDetail, type JobPreview, type RunState } from '../../protocol/index.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { DeviceRouter } from '../devices/device-router.js';
import type { FleetEvents } from '../devices/fleet-events.js';
import { selectDevices } from './device-selection.js';
import type { Stores } from '../store/stores.js';
import type { FinalJobState, FinalRunState, NewRun } from './run-store.js';
import type { RunService } from './run-service.js';

export interface JobSchedulerDeps {
  stores: Stores;
  runs: RunService;
  router: DeviceRouter;
  events: FleetEvents;
  audit: AuditLog;
  devices: () => Device[] | Promise<Device[]>;
  log: Logger;
  now?: () => number;
  /** This process in a cluster (its node instance), recorded on what it runs so the leader can end it should the process die. */
  owner?: string;
  /**
   * Whether runs and jobs the store still has unfinished are cancelled at start (default true:
   * they were the previous process's). A node joining a live cluster passes false: they are other nodes'.
   */
  endOrphans?: boolean;
}

interface ActiveJob {
  id: string;
  cancelled: boolean;
  /** Wakes runs waiting for an offline device, so cancel does not wait for their expiry. */
  wake: Set<() => void>;
  /** Runs started and not final, for cancel. */
  running: Set<string>;
  /** Settles when the job has ended and its end is written. */
  driven: Promise<void>;
}

const FAILURES: ReadonlySet<RunState> = new Set(['failed', 'timed_out']);

/**
 * Fleet jobs: one command over a selection, in staged batches (a batch starts when the previous
 * one is final), at most `concurrency` runs at once, aborted after a batch when the failure
 * ratio so far exceeds `maxFailureRatio`; offline devices fail at once or, with `queueOffline`,
 * wait for their device until the job's expiry.
 */
export class JobScheduler {
  private readonly active = new Map<string, ActiveJob>();
  private readonly now: () => number;
  private closing = false;
  /** Settles once runs and jobs left unfinished by the previous process are marked cancelled. */
  readonly ready: Promise<void>;

  constructor(private readonly deps: JobSchedulerDeps) {
    this.now = deps.now ?? Date.now;
    this.ready = deps.endOrphans === false ? Promise.resolve() : deps.stores.runs.endOrphans(this.now(), 'The backend restarted').then(() => undefined);
  }

  /** `visible` narrows the fleet to the devices the requesting user's scope covers. */
  async preview(selection: DeviceSelection, visible: (d: Device) => boolean = () => true): Promise<JobPreview> {
    const devices = selectDevices((await this.deps.devices()).filter(visible), selection);
    return { count: devices.length, online: devices.filter((d) => this.deps.router.isConnected(d.id)).length, deviceIds: devices.map((d) => d.id) };
  }

  /** Records the job, its runs (one per device) and its audit entry in one transaction, then starts it. */
  async create(actor: string, request: JobCreateRequest, visible: (d: Device) => boolean = () => true): Promise<JobDetail> {
    const command: CommandRequest = { command: request.command, cwd: request.cwd, env: request.env, timeoutMs: request.timeoutMs };
    const devices = selectDevices((await this.deps.devices()).filter(visible), request.selection);
    if (devices.length === 0) throw new TetherError('SELECTION_EMPTY');
    await this.ready;
    const id = randomUUID();
    const createdAt = this.now();
    const batchSize = request.batchSize ?? devices.length;
    const runs: NewRun[] = devices.map((d, i) => ({
      id: randomUUID(), jobId: id, deviceId: d.id, command, batch: Math.floor(i / batchSize), createdBy: actor, createdAt, owner: this.deps.owner,
    }));
    await this.deps.stores.transaction(async (tx) => {
      await tx.runs.insertJob(
        {
          id, command, concurrency: request.concurrency, batchSize, maxFailureRatio: request.maxFailureRatio ?? null,
          queueOffline: request.queueOffline, offlineExpiryMs: request.offlineExpiryMs, createdBy: actor, createdAt, owner: this.deps.owner,
        },
        runs,
      );
      await this.deps.audit.record(actor, 'job.create', id, { devices: devices.length, command: request.command, batchSize, concurrency: request.concurrency, maxFailureRatio: request.maxFailureRatio }, tx);
    });
    const job: ActiveJob = { id, cancelled: false, wake: new Set(), running: new Set(), driven: Promise.resolve() };
    this.active.set(id, job);
    job.driven = this.drive(job, runs, request, command).catch(async (err: unknown) => {
      this.deps.log.error({ err, jobId: id }, 'job failed internally');
      await this.finish(job, 'cancelled', 'internal error').catch(() => undefined);
    });
    return this.detail(id);
  }

  async detail(id: string): Promise<JobDetail> {
    const [job, runs] = await Promise.all([this.deps.stores.runs.findJob(id), this.deps.stores.runs.runsOfJob(id)]);
    if (!job) throw new TetherError('NOT_FOUND', 'No such job');
    return { ...job, runs: runs.map((r) => this.deps.runs.withLiveOutput(r)) };
  }

  /** Newest first, with progress counts. */
  list(limit: number): Promise<Job[]> {
    return this.deps.stores.runs.listJobs(limit);
  }

  /**
   * Ends a running job as cancelled, with its queued runs, audited in the same transaction; then
   * kills its running runs. CONFLICT when the job had already ended (completed, aborted, or
   * cancelled by someone else first): one end per job, one audit entry for it.
   */
  async cancel(id: string, actor: string): Promise<JobDetail> {
    const now = this.now();
    const ended = await this.deps.stores.transaction(async (tx) => {
      const job = await tx.runs.endJob(id, 'cancelled', 'cancelled by a user', now);
      if (!job) return false;
      await tx.runs.endQueued(id, 'cancelled', 'cancelled', now);
      await this.deps.audit.record(actor, 'job.cancel', id, {}, tx);
      return true;
    });
    if (!ended) {
      if (!(await this.deps.stores.runs.findJob(id))) throw new TetherError('NOT_FOUND', 'No such job');
      throw new TetherError('CONFLICT', 'The job has already ended');
    }
    const job = this.active.get(id);
    if (job) {
      job.cancelled = true;
      for (const wake of job.wake) wake();
      await Promise.all([...job.running].map((runId) => this.deps.runs.cancel(runId, actor)));
    }
    this.deps.log.info({ jobId: id, actor }, 'job cancelled');
    return this.detail(id);
  }

  /** Stops every job (their runs are ended by RunService.close) and waits until their ends are written. */
  async close(): Promise<void> {
    this.closing = true;
    const jobs = [...this.active.values()];
    for (const job of jobs) {
      job.cancelled = true;
      for (const wake of job.wake) wake();
    }
    await Promise.all(jobs.map((job) => job.driven));
  }

  private async drive(job: ActiveJob, runs: NewRun[], request: JobCreateRequest, command: CommandRequest): Promise<void> {
    const batches = new Map<number, NewRun[]>();
    for (const run of runs) batches.set(run.batch ?? 0, [...(batches.get(run.batch ?? 0) ?? []), run]);
    const expiresAt = this.now() + request.offlineExpiryMs;
    const results = new Map<string, RunState>();
    for (const [index, batch] of [...batches.entries()].sort((a, b) => a[0] - b[0])) {
      if (job.cancelled) break;
      let next = 0;
      const worker = async () => {
        while (next < batch.length && !job.cancelled) {
          const run = batch[next++] as NewRun;
          results.set(run.id, await this.runOne(job, run, request, command, expiresAt));
        }
      };
      await Promise.all(Array.from({ length: Math.min(request.concurrency, batch.length) }, worker));
      if (job.cancelled) break;
      const final = [...results.values()];
      const failed = final.filter((s) => FAILURES.has(s)).length;
      const ratio = final.length === 0 ? 0 : failed / final.length;
      if (request.maxFailureRatio !== undefined && ratio > request.maxFailureRatio && index < batches.size - 1) {
        await this.finish(job, 'aborted', `failure ratio ${failed}/${final.length} exceeded ${request.maxFailureRatio} after batch ${index + 1}`);
        return;
      }
    }
    if (!job.cancelled) await this.finish(job, 'completed', null);
    else await this.finish(job, 'cancelled', this.closing ? 'The backend is shutting down' : 'cancelled by a user');
  }

  private async runOne(job: ActiveJob, run: NewRun, request: JobCreateRequest, command: CommandRequest, expiresAt: number): Promise<RunState> {
    if (!this.deps.router.isConnected(run.deviceId)) {
      if (!request.queueOffline) return this.endQueuedRun(run.id, 'failed', 'DEVICE_OFFLINE: the device is offline');
      const online = await this.waitOnline(job, run.deviceId, expiresAt);
      if (job.cancelled) return 'cancelled';
      if (!online) return this.endQueuedRun(run.id, 'expired', 'The device stayed offline until the job expired');
    }
    job.running.add(run.id);
    try {
      return await this.deps.runs.execute(run.id, run.deviceId, command);
    } finally {
      job.running.delete(run.id);
    }
  }

  /** Ends a run that never started; when something else ended it first, its state stands. */
  private async endQueuedRun(runId: string, state: FinalRunState, error: string): Promise<RunState> {
    const ended = await this.deps.stores.runs.endRun(runId, { state, exitCode: null, signal: null, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), truncated: false, error, endedAt: this.now() });
    return ended?.state ?? (await this.deps.stores.runs.findRun(runId))?.state ?? state;
  }

  /** Resolves true when the device comes online, false at the deadline or on cancel. */
  private waitOnline(job: ActiveJob, deviceId: string, deadline: number): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (online: boolean) => {
        clearTimeout(timer);
        unsubscribe();
        job.wake.delete(wake);
        resolve(online);
      };
      const wake = () => done(false);
      const timer = setTimeout(() => done(false), Math.max(0, deadline - this.now()));
      const unsubscribe = this.deps.events.subscribe((event) => {
        if (event.type === 'device.status' && event.id === deviceId && event.online && this.deps.router.isConnected(deviceId)) done(true);
      });
      job.wake.add(wake);
    });
  }

  /**
   * Ends the job once, with its still-queued runs and the audit entry, in one transaction. When
   * the job had ended already (a user cancelled it first), that end stands and nothing is written.
   */
  private async finish(job: ActiveJob, state: FinalJobState, reason: string | null): Promise<void> {
    if (!this.active.delete(job.id)) return;
    const now = this.now();
    const ended = await this.deps.stores.transaction(async (tx) => {
      if (!(await tx.runs.endJob(job.id, state, reason, now))) return false;
      await tx.runs.endQueued(job.id, 'cancelled', state === 'aborted' ? `aborted: ${reason ?? ''}` : 'cancelled', now);
      await this.deps.audit.record('system', `job.${state}`, job.id, reason ? { reason } : {}, tx);
      return true;
    });
    if (ended) this.deps.log.info({ jobId: job.id, state, reason }, 'job ended');
  }
}
