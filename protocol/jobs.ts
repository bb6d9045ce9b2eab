import { z } from 'zod';
import { Tags } from './api.js';
import { DeviceId } from './control.js';
import { CommandRequest } from './shell.js';

/** Per-device state of a command run; the last five are final. */
export const RunState = z.enum(['queued', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'expired']);
export type RunState = z.infer<typeof RunState>;
export const FINAL_RUN_STATES: ReadonlySet<RunState> = new Set(['succeeded', 'failed', 'timed_out', 'cancelled', 'expired']);

/** One command on one device, alone or as part of a job. Output is UTF-8 text, bounded by the backend. */
export const Run = z.object({
  id: z.string(),
  jobId: z.string().nullable(),
  deviceId: z.string(),
  state: RunState,
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  stdout: z.string(),
  stderr: z.string(),
  truncated: z.boolean(),
  error: z.string().nullable(),
  /** Order within a job's staged rollout (0-based), null for a single command. */
  batch: z.number().int().nullable(),
  createdAt: z.number(),
  startedAt: z.number().nullable(),
  endedAt: z.number().nullable(),
});
export type Run = z.infer<typeof Run>;

export const RunCreateRequest = CommandRequest.extend({
  /** Answer only when the run is final (bounded by the command's timeout). */
  wait: z.boolean().optional(),
});
export type RunCreateRequest = z.infer<typeof RunCreateRequest>;

/** Which devices a job touches: the union of explicit ids, devices carrying all `tags`, and a free-text query. */
export const DeviceSelection = z
  .object({
    deviceIds: z.array(DeviceId).max(100_000).optional(),
    tags: Tags.optional(),
    query: z.string().min(1).max(256).optional(),
  })
  .refine((s) => s.deviceIds !== undefined || s.tags !== undefined || s.query !== undefined, 'a selection needs deviceIds, tags or a query');
export type DeviceSelection = z.infer<typeof DeviceSelection>;

export const JobOptions = z.object({
  /** Runs in flight at once. */
  concurrency: z.number().int().min(1).max(10_000).default(10),
  /** Staged rollout: a batch starts only when the previous one is final. Default: one batch. */
  batchSize: z.number().int().min(1).max(100_000).optional(),
  /** After each batch: abort when failed / final so far exceeds this (0..1). */
  maxFailureRatio: z.number().min(0).max(1).optional(),
  /** Wait for offline devices until `offlineExpiryMs` instead of failing them at once. */
  queueOffline: z.boolean().default(false),
  offlineExpiryMs: z.number().int().min(100).max(30 * 24 * 3600_000).default(3600_000),
});

/** The command's fields (command, cwd, env, timeoutMs) beside the job's options and selection. */
export const JobCreateRequest = CommandRequest.extend(JobOptions.shape).extend({ selection: DeviceSelection });
export type JobCreateRequest = z.infer<typeof JobCreateRequest>;
export type JobCreateRequestInput = z.input<typeof JobCreateRequest>;

export const JobState = z.enum(['running', 'completed', 'aborted', 'cancelled']);
export type JobState = z.infer<typeof JobState>;

export const JobCounts = z.record(RunState, z.number().int());
export type JobCounts = z.infer<typeof JobCounts>;

export const Job = z.object({
  id: z.string(),
  state: JobState,
  command: CommandRequest,
  concurrency: z.number().int(),
  batchSize: z.number().int(),
  maxFailureRatio: z.number().nullable(),
  queueOffline: z.boolean(),
  offlineExpiryMs: z.number().int(),
  createdBy: z.string(),
  createdAt: z.number(),
  endedAt: z.number().nullable(),
  total: z.number().int(),
  counts: JobCounts,
  /** Why the job stopped early, e.g. the failure ratio. */
  reason: z.string().nullable(),
});
export type Job = z.infer<typeof Job>;

export const JobDetail = Job.extend({ runs: z.array(Run) });
export type JobDetail = z.infer<typeof JobDetail>;
export const JobList = z.object({ jobs: z.array(Job) });
export type JobList = z.infer<typeof JobList>;

/** The confirmation before a job starts: how many devices it will touch. */
export const JobPreviewRequest = z.object({ selection: DeviceSelection });
export const JobPreview = z.object({ count: z.number().int(), online: z.number().int(), deviceIds: z.array(z.string()) });
export type JobPreview = z.infer<typeof JobPreview>;
