import { z } from 'zod';
import { DeviceId } from './control.js';

/** Hard bounds on one telemetry batch; the backend refuses bigger ones with BATCH_INVALID. */
export const TELEMETRY_LIMITS = {
  maxBatchBytes: 1024 * 1024,
  maxMetricsPerBatch: 5000,
  maxLogsPerBatch: 2000,
  /** A sample more than this far from the backend's clock is refused. */
  maxClockSkewMs: 7 * 24 * 3600 * 1000,
  /** Samples from the future are refused sooner: a clock far ahead would push points past every chart. */
  maxFutureSkewMs: 3600 * 1000,
} as const;

export const MetricSample = z.object({
  ts: z.number().int().nonnegative(),
  name: z.string().min(1).max(128).regex(/^[a-z][a-z0-9_.]*$/),
  value: z.number().finite(),
});
export type MetricSample = z.infer<typeof MetricSample>;

export const LogLine = z.object({
  ts: z.number().int().nonnegative(),
  level: z.enum(['debug', 'info', 'notice', 'warning', 'error', 'critical']),
  source: z.string().max(256),
  message: z.string().max(16384),
});
export type LogLine = z.infer<typeof LogLine>;

/** agent → backend; the agent keeps the batch until it sees the matching ack. */
export const TelemetryBatch = z.object({
  type: z.literal('batch'),
  seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  /** Optional self-identification; a batch naming another device than its token's is refused (BATCH_DEVICE_MISMATCH). */
  deviceId: DeviceId.optional(),
  metrics: z.array(MetricSample).max(TELEMETRY_LIMITS.maxMetricsPerBatch),
  logs: z.array(LogLine).max(TELEMETRY_LIMITS.maxLogsPerBatch),
});
export type TelemetryBatch = z.infer<typeof TelemetryBatch>;

/** backend → agent: the batch `seq` is durably stored (or was already). */
export const TelemetryAck = z.object({ type: z.literal('ack'), seq: z.number().int().nonnegative() });
export type TelemetryAck = z.infer<typeof TelemetryAck>;

/** backend → agent: the batch `seq` was refused for good (the agent drops it and counts it); `code` says why. */
export const TelemetryNack = z.object({ type: z.literal('nack'), seq: z.number().int().nonnegative(), code: z.string().max(64) });
export type TelemetryNack = z.infer<typeof TelemetryNack>;

export const TelemetryServerMessage = z.discriminatedUnion('type', [TelemetryAck, TelemetryNack]);
export type TelemetryServerMessage = z.infer<typeof TelemetryServerMessage>;
