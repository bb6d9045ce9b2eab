import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { TetherError, type CommandRequest, type Device, type DeviceSelection, type JobCreateRequest, type JobDetail, type JobPreview, type RunState } from '../../protocol/index.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { DeviceRouter } from '../devices/device-router.js';
import type { FleetEvents } from '../devices/fleet-events.js';
import { selectDevices } from './device-selection.js';
import type { NewRun, RunRepo } from './run-repo.js';
import type { RunService } from './run-service.js';

export interface JobSchedulerDeps {
  repo: RunRepo;
  runs: RunService;
  router: DeviceRouter;
  events: FleetEvents;
  audit: AuditLog;
  devices: () => Device[];
  log: Logger;
  now?: () => number;
}

interface ActiveJob {
  id: string;
  cancelled: boolean;
  /** Wakes runs waiting for an offline device, so cancel does not wait for their expiry. */
  wake: Set<() => void>;
  /** Runs started and not final, for cancel. */
  running: Set<string>;
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

  constructor(private readonly deps: JobSchedulerDeps) {
    this.now = deps.now ?? Date.now;
    deps.repo.endOrphans(this.now());
  }

  /** `visible` narrows the fleet to the devices the requesting user's scope covers. */
  preview(selection: DeviceSelection, visible: (d: Device) => boolean = () => true): JobPreview {
    const devices = selectDevices(this.deps.devices().filter(visible), selection);
    return { count: devices.length, online: devices.filter((d) => this.deps.router.isConnected(d.id)).length, deviceIds: devices.map((d) => d.id) };
  }

  create(actor: string, request: JobCreateRequest, visible: (d: Device) => boolean = () => true): JobDetail {
    const command: CommandRequest = { command: request.command, cwd: request.cwd, env: request.env, timeoutMs: request.timeoutMs };
    const devices = selectDevices(this.deps.devices().filter(visible), request.selection);
    if (devices.length === 0) throw new TetherError('SELECTION_EMPTY');
    const id = randomUUID();
    const createdAt = this.now();
    const batchSize = request.batchSize ?? devices.length;
    const runs: NewRun[] = devices.map((d, i) => ({
      id: randomUUID(), jobId: id, deviceId: d.id, command, batch: Math.floor(i / batchSize), createdBy: actor, createdAt,
    }));
    this.deps.repo.insertJob(
      {
        id, command, concurrency: request.concurrency, batchSize, maxFailureRatio: request.maxFailureRatio ?? null,
        queueOffline: request.queueOffline, offlineExpiryMs: request.offlineExpiryMs, createdBy: actor, createdAt,
      },
      runs,
    );
    this.deps.audit.record(actor, 'job.create', id, { devices: devices.length, command: request.command, batchSize, concurrency: request.concurrency, maxFailureRatio: request.maxFailureRatio });
    const job: ActiveJob = { id, cancelled: false, wake: new Set(), running: new Set() };
    this.active.set(id, job);
    void this.drive(job, runs, request, command).catch((err: unknown) => {
      this.deps.log.error({ err, jobId: id }, 'job failed internally');
      this.finish(job, 'cancelled', 'internal error');
    });
    return this.detail(id);
  }

  detail(id: string): JobDetail {
    const job = this.deps.repo.findJob(id);
    if (!job) throw new TetherError('NOT_FOUND', 'No such job');
    return { ...job, runs: this.deps.repo.runsOfJob(id).map((r) => this.deps.runs.withLiveOutput(r)) };
  }

  async cancel(id: string, actor: string): Promise<JobDetail> {
    const job = this.active.get(id);
    if (!job) {
      if (!this.deps.repo.findJob(id)) throw new TetherError('NOT_FOUND', 'No such job');
      throw new TetherError('CONFLICT', 'The job has already ended');
    }
    job.cancelled = true;
    this.deps.audit.record(actor, 'job.cancel', id);
    for (const wake of job.wake) wake();
    await Promise.all([...job.running].map((runId) => this.deps.runs.cancel(runId, actor)));
    return this.detail(id);
  }

  close(): void {
    for (const job of this.active.values()) {
      job.cancelled = true;
      for (const wake of job.wake) wake();
    }
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
        this.finish(job, 'aborted', `failure ratio ${failed}/${final.length} exceeded ${request.maxFailureRatio} after batch ${index + 1}`);
        return;
      }
    }
    this.finish(job, job.cancelled ? 'cancelled' : 'completed', job.cancelled ? 'cancelled by a user' : null);
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

  private endQueuedRun(runId: string, state: RunState, error: string): RunState {
    this.deps.repo.endRun(runId, { state, exitCode: null, signal: null, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), truncated: false, error, endedAt: this.now() });
    return state;
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

  private finish(job: ActiveJob, state: 'completed' | 'aborted' | 'cancelled', reason: string | null): void {
    if (!this.active.delete(job.id)) return;
    const now = this.now();
    this.deps.repo.endQueued(job.id, 'cancelled', state === 'aborted' ? `aborted: ${reason ?? ''}` : 'cancelled', now);
    this.deps.repo.endJob(job.id, state, reason, now);
    this.deps.audit.record('system', `job.${state}`, job.id, reason ? { reason } : {});
    this.deps.log.info({ jobId: job.id, state, reason }, 'job ended');
  }
}
