import type { CommandRequest, Job, JobState, Run, RunState } from '../../protocol/index.js';

export interface NewRun {
  id: string;
  jobId: string | null;
  deviceId: string;
  command: CommandRequest;
  /** Staged-rollout batch within a job, null for a single command. */
  batch: number | null;
  createdBy: string;
  createdAt: number;
  /** The backend process that runs it (a cluster node's instance; absent on a single node). */
  owner?: string | null;
}

export type NewJob = Omit<Job, 'state' | 'endedAt' | 'total' | 'counts' | 'reason'> & { owner?: string | null };

/** The states a run ends in. */
export type FinalRunState = Exclude<RunState, 'queued' | 'running'>;
/** The states a job ends in. */
export type FinalJobState = Exclude<JobState, 'running'>;

/** What a run ends with. Output is stored once, here: live output stays in the running backend's memory. */
export interface RunEnd {
  state: FinalRunState;
  exitCode: number | null;
  signal: string | null;
  stdout: Buffer;
  stderr: Buffer;
  truncated: boolean;
  error: string | null;
  endedAt: number;
}

/**
 * Command runs and fleet jobs. Every state change is one conditional update: a run goes
 * queued → running → final, a job running → final, each at most once, so of two backends (or two
 * requests) ending the same run or job exactly one wins and the other learns that it lost.
 */
export interface RunStore {
  insertRun(run: NewRun): Promise<void>;
  /**
   * A job (running) and its runs (queued, in the order given, which `runsOfJob` keeps), written in
   * multi-row slices; atomic on its own, and joins the caller's transaction when there is one.
   */
  insertJob(job: NewJob, runs: readonly NewRun[]): Promise<void>;
  /** queued → running; false when the run is not queued any more (cancelled meanwhile): do not start it. */
  markRunning(id: string, at: number): Promise<boolean>;
  /**
   * Ends a run that is not final yet: succeeded and timed_out only from running, expired only from
   * queued, failed and cancelled from either. Returns the run as ended, or undefined when it was
   * already final, unknown or in a state it cannot end from that way: the caller lost.
   */
  endRun(id: string, end: RunEnd): Promise<Run | undefined>;
  /** Ends every still-queued run of a job (cancel, abort); returns how many. */
  endQueued(jobId: string, state: 'cancelled' | 'expired', error: string, endedAt: number): Promise<number>;
  /** running → `state`, once: the job as ended, or undefined when it had ended already (or is unknown). */
  endJob(id: string, state: FinalJobState, reason: string | null, endedAt: number): Promise<Job | undefined>;
  /** After a restart nothing runs any more: every unfinished run and job becomes cancelled. */
  endOrphans(now: number, reason: string): Promise<{ runs: number; jobs: number }>;
  /** Owners of unfinished runs and jobs (cluster node instances), each once. */
  openOwners(): Promise<string[]>;
  /** The process `owner` is gone: its unfinished runs and jobs become cancelled with `reason`. */
  endOwnedBy(owner: string, now: number, reason: string): Promise<{ runs: number; jobs: number }>;
  findRun(id: string): Promise<Run | undefined>;
  /** A device's runs, newest first. */
  runsOfDevice(deviceId: string, limit: number): Promise<Run[]>;
  /** A job's runs by batch, in the order the job was created with. */
  runsOfJob(jobId: string): Promise<Run[]>;
  /** The job with its progress: total runs and how many are in each state. */
  findJob(id: string): Promise<Job | undefined>;
  /** Newest first, with progress. */
  listJobs(limit: number): Promise<Job[]>;
}
