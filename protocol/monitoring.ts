import { z } from 'zod';
import { DeviceId } from './control.js';
import { LogLine, MetricSample } from './telemetry.js';

/** A metric name as agents report it (`cpu.total`, `disk.root.used_pct`). */
export const MetricName = z.string().min(1).max(128).regex(/^[a-z][a-z0-9_.]*$/);

/** Storage tiers a metrics query can read; the backend picks one from range and step. */
export const MetricTier = z.enum(['raw', '1m', '1h']);
export type MetricTier = z.infer<typeof MetricTier>;

/** Comma-separated names in a query string. */
const NameList = z
  .string()
  .max(4096)
  .transform((s) => s.split(',').filter(Boolean))
  .pipe(z.array(MetricName).min(1).max(64));

export const MetricsQuery = z.object({
  names: NameList,
  from: z.coerce.number().int().nonnegative(),
  to: z.coerce.number().int().nonnegative(),
  /** Bucket width in ms; 0 asks for the raw points (only within the raw tier). */
  step: z.coerce.number().int().nonnegative().max(366 * 24 * 3600 * 1000).default(0),
});
export type MetricsQuery = z.infer<typeof MetricsQuery>;

/** One bucket: start, mean, min, max. */
export const MetricPoint = z.tuple([z.number(), z.number(), z.number(), z.number()]);
export type MetricPoint = z.infer<typeof MetricPoint>;

export const MetricsQueryResult = z.object({
  deviceId: DeviceId,
  tier: MetricTier,
  step: z.number(),
  series: z.array(z.object({ name: MetricName, points: z.array(MetricPoint) })),
});
export type MetricsQueryResult = z.infer<typeof MetricsQueryResult>;

export const LatestValue = z.object({ ts: z.number(), value: z.number() });
export const FleetLatest = z.object({ devices: z.record(z.string(), z.record(z.string(), LatestValue)) });
export type FleetLatest = z.infer<typeof FleetLatest>;

export const MetricNames = z.object({ names: z.array(MetricName) });

/** Stored log line with its device. */
export const StoredLogLine = LogLine.extend({ id: z.number().int(), deviceId: DeviceId });
export type StoredLogLine = z.infer<typeof StoredLogLine>;

export const LogSearchQuery = z.object({
  deviceId: DeviceId.optional(),
  /** Words searched in message and source, all of which must match; "a quoted phrase"; a trailing * for a prefix (err*). Same results on every engine. */
  q: z.string().max(512).optional(),
  from: z.coerce.number().int().nonnegative().optional(),
  to: z.coerce.number().int().nonnegative().optional(),
  limit: z.coerce.number().int().positive().max(1000).default(200),
});
export type LogSearchQuery = z.infer<typeof LogSearchQuery>;
export const LogSearchResult = z.object({ lines: z.array(StoredLogLine) });

export const AlertComparison = z.enum(['>', '>=', '<', '<=']);
export const AlertCondition = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('metric'), metric: MetricName, comparison: AlertComparison, threshold: z.number().finite() }),
  z.object({ kind: z.literal('offline') }),
]);
export type AlertCondition = z.infer<typeof AlertCondition>;

export const AlertRuleInput = z.object({
  name: z.string().min(1).max(128),
  condition: AlertCondition,
  /** The condition must hold this long before the alert fires. */
  forMs: z.number().int().nonnegative().max(30 * 24 * 3600 * 1000),
  /** Devices whose tags include every one of these; empty = the whole fleet. */
  scope: z.record(z.string().max(64), z.string().max(256)).default({}),
  enabled: z.boolean().default(true),
});
export type AlertRuleInput = z.infer<typeof AlertRuleInput>;
export const AlertRule = AlertRuleInput.extend({ id: z.number().int(), createdAt: z.number() });
export type AlertRule = z.infer<typeof AlertRule>;

export const AlertEvent = z.object({
  id: z.number().int(),
  ruleId: z.number().int(),
  ruleName: z.string(),
  deviceId: DeviceId,
  state: z.enum(['firing', 'resolved']),
  ts: z.number(),
  value: z.number().nullable(),
});
export type AlertEvent = z.infer<typeof AlertEvent>;

/** Console → backend: live streams a console wants; each replaces the previous one of its kind. */
export const MonitoringClientMessage = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('metrics.subscribe'),
    /** One device's every sample, or '*' for the fleet's latest values of `names` (coalesced). */
    target: z.union([DeviceId, z.literal('*')]),
    names: z.array(MetricName).max(64).optional(),
  }),
  z.object({ type: z.literal('metrics.unsubscribe'), target: z.union([DeviceId, z.literal('*')]) }),
  z.object({ type: z.literal('logs.subscribe'), deviceId: DeviceId.optional() }),
  z.object({ type: z.literal('logs.unsubscribe') }),
]);
export type MonitoringClientMessage = z.infer<typeof MonitoringClientMessage>;

/** Backend → console live monitoring messages. */
export const MonitoringServerMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('metrics.samples'), deviceId: DeviceId, samples: z.array(MetricSample) }),
  z.object({ type: z.literal('metrics.latest'), devices: z.record(z.string(), z.record(z.string(), LatestValue)) }),
  z.object({ type: z.literal('logs.lines'), lines: z.array(StoredLogLine) }),
  z.object({ type: z.literal('alert.event'), event: AlertEvent }),
]);
export type MonitoringServerMessage = z.infer<typeof MonitoringServerMessage>;
