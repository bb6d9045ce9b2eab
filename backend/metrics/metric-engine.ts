import type { LogLine, MetricSample, TelemetryBatch } from '../../protocol/index.js';
import type { RawSeries, RollupPoint, RollupTier } from './chunks.js';
import type { RetentionPolicy } from './retention.js';

/** One batch as it reached the gateway, already authenticated and validated. */
export interface IncomingBatch {
  deviceId: string;
  batch: TelemetryBatch;
}

/** What a committed write added, for live subscribers and the latest-value cache. */
export interface StoredBatch {
  deviceId: string;
  metrics: MetricSample[];
  logs: Array<LogLine & { id: number }>;
}

/** A series' newest sample (to seed the latest-value cache after a restart). */
export interface LatestSample {
  deviceId: string;
  name: string;
  ts: number;
  value: number;
}

/** What a slice of a job did, and whether work remains (the caller runs it again on a later turn of the loop). */
export interface RollupProgress {
  minutes: number;
  hours: number;
  more: boolean;
}
export interface CompactionProgress {
  chunks: number;
  more: boolean;
}
export interface RetentionProgress {
  /** Chunks (`chunks`) and rows per table deleted. */
  deleted: Record<string, number>;
  more: boolean;
}

/**
 * The telemetry storage engine: samples per series (a device's metric) in durable heads and
 * compressed chunks (backend/metrics/chunks.ts, chunk-codec.ts), 1-minute and 1-hour rollups,
 * logs, and the per-(device, seq) record that makes ingest idempotent. One implementation per
 * engine under backend/store/; the contract suite test/store/metrics.contract.test.ts runs on both.
 *
 * Reads merge chunks and heads, so answers never depend on whether compaction has run. The jobs
 * (rollup, compact, dropExpired) work in slices bounded by `budgetMs`, each write in a bounded
 * transaction, and are safe to run on several nodes at once.
 */
export interface MetricEngine {
  /** How many ingest flushes are worth writing at once: 1 on SQLite's single writer, more where the server commits in parallel. */
  readonly concurrentFlushes: number;
  /**
   * Stores a flush in one transaction, durable when the promise resolves: each result is what
   * was added, or null when that batch was already stored (a resend, also a second copy in the
   * same flush or in a concurrent one). Marks the touched minutes dirty for the rollup job. A
   * rejection stored nothing of the flush.
   */
  ingest(entries: readonly IncomingBatch[]): Promise<Array<StoredBatch | null>>;
  /** Raw samples of a device's metric with from <= ts < to, in time order (none when it never reported it). */
  readRaw(deviceId: string, name: string, from: number, to: number): Promise<RawSeries>;
  /** Rollup buckets of a device's metric with from <= bucket < to, in order. */
  readRollup(tier: RollupTier, deviceId: string, name: string, from: number, to: number): Promise<RollupPoint[]>;
  /** Every metric name a device ever reported, sorted. */
  seriesNames(deviceId: string): Promise<string[]>;
  /** Names of a device's metrics with a raw sample at or after `since`, sorted. */
  namesSince(deviceId: string, since: number): Promise<string[]>;
  /** Every series with raw samples since `since`, with its newest one. */
  latestSince(since: number): Promise<LatestSample[]>;
  /**
   * Recomputes dirty minute and hour buckets that closed before `now` from the samples below
   * them (idempotent, late samples included), `chunk` buckets per transaction.
   */
  rollup(now: number, budgetMs?: number, chunk?: number): Promise<RollupProgress>;
  /**
   * Moves head rows of closed windows (a grace period after they closed) into chunks, merging
   * late rows into an existing chunk; `seriesPerTx` series per transaction. A sample is in the
   * head or in a chunk, never both, never neither.
   */
  compact(now: number, budgetMs?: number, seriesPerTx?: number): Promise<CompactionProgress>;
  /**
   * Deletes what the policy no longer keeps: metric chunks whole (once all of their window
   * expired), logs, alert events, and dedupe records too old for a resend to pass the clock check.
   */
  dropExpired(now: number, policy: RetentionPolicy, budgetMs?: number, chunk?: number): Promise<RetentionProgress>;
}
