import type { Aggregate } from './aggregate.js';
import { decodeChunk, encodeChunk } from './chunk-codec.js';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export type StoredTier = 'raw' | '1m' | '1h';
export type RollupTier = Exclude<StoredTier, 'raw'>;

/**
 * Each tier's samples live in a head table (one row per sample or bucket, written at ingest)
 * until their chunk window has closed, then in one compressed chunk per series and window.
 * Windows hold ~120 points (raw every 5 s, one per minute, one per hour): large enough that the
 * codec's per-chunk header and the database's per-row overhead are small per sample, small enough
 * that a chunk fits a page several times over and the head stays a few minutes' worth of rows.
 * Both engines use these windows, so a chunk means the same on either.
 */
export const CHUNK_WINDOW_MS: Readonly<Record<StoredTier, number>> = { raw: 10 * MINUTE_MS, '1m': 2 * HOUR_MS, '1h': 5 * DAY_MS };

/**
 * How long after a window closed its head rows are compacted: late enough that the samples
 * in flight (agents flush every few seconds) and the rollup job's recomputations have landed.
 * Later arrivals are not lost: they wait in the head and are merged into the chunk next time.
 */
export const COMPACT_GRACE_MS: Readonly<Record<StoredTier, number>> = { raw: 2 * MINUTE_MS, '1m': 10 * MINUTE_MS, '1h': 2 * HOUR_MS };

/** Raw samples of one series, in time order. */
export interface RawSeries {
  ts: number[];
  values: number[];
}

export interface RollupPoint extends Aggregate {
  bucket: number;
}

/** Where a tier's compaction pass starts: the start of the newest window that closed a grace period ago. */
export function compactionCutoff(tier: StoredTier, now: number): number {
  const window = CHUNK_WINDOW_MS[tier];
  return Math.floor((now - COMPACT_GRACE_MS[tier]) / window) * window;
}

/** The chunk starts retention may drop: every window that ended at or before `cutoff` starts before this. */
export function expiredChunksBefore(tier: StoredTier, cutoff: number): number {
  // start + window <= cutoff, i.e. start < cutoff - window + 1
  return cutoff - CHUNK_WINDOW_MS[tier] + 1;
}

export function rollupRow([bucket, count, sum, min, max]: readonly number[]): RollupPoint {
  return { bucket: bucket as number, count: count as number, sum: sum as number, min: min as number, max: max as number };
}

/** Rollup points as a chunk: bucket times and four columns (count, sum, min, max). */
export function encodeRollups(points: readonly RollupPoint[]): Uint8Array {
  return encodeChunk(
    points.map((p) => p.bucket),
    [points.map((p) => p.count), points.map((p) => p.sum), points.map((p) => p.min), points.map((p) => p.max)],
  );
}

/** Appends the samples of a raw chunk with from <= ts < to. */
export function appendRawChunk(out: RawSeries, data: Uint8Array, from: number, to: number): void {
  const chunk = decodeChunk(data);
  const values = chunk.columns[0] as Float64Array;
  for (let i = 0; i < chunk.ts.length; i++) {
    const t = chunk.ts[i] as number;
    if (t >= from && t < to) {
      out.ts.push(t);
      out.values.push(values[i] as number);
    }
  }
}

/** Appends the buckets of a rollup chunk with from <= bucket < to. */
export function appendRollupChunk(out: RollupPoint[], data: Uint8Array, from: number, to: number): void {
  const { ts, columns } = decodeChunk(data);
  const [count, sum, min, max] = columns as [Float64Array, Float64Array, Float64Array, Float64Array];
  for (let i = 0; i < ts.length; i++) {
    const bucket = ts[i] as number;
    if (bucket >= from && bucket < to) out.push({ bucket, count: count[i] as number, sum: sum[i] as number, min: min[i] as number, max: max[i] as number });
  }
}

/** Both lists sorted by bucket; a bucket in `head` replaces the same bucket in `chunks` (a recomputed rollup). */
export function mergeRollups(chunks: readonly RollupPoint[], head: readonly RollupPoint[]): RollupPoint[] {
  if (head.length === 0) return [...chunks];
  if (chunks.length === 0) return [...head];
  const out: RollupPoint[] = [];
  let i = 0;
  let j = 0;
  while (i < chunks.length || j < head.length) {
    const c = chunks[i];
    const h = head[j];
    if (h && (!c || h.bucket <= c.bucket)) {
      if (c && c.bucket === h.bucket) i++;
      out.push(h);
      j++;
    } else if (c) {
      out.push(c);
      i++;
    }
  }
  return out;
}

export function groupByWindow<T extends readonly [number, ...unknown[]]>(rows: readonly T[], window: number): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const row of rows) {
    const start = Math.floor(row[0] / window) * window;
    let list = groups.get(start);
    if (!list) groups.set(start, (list = []));
    list.push(row);
  }
  return groups;
}

/** Sorts samples by time, keeping the arrival order of equal times. */
export function sortRaw(s: RawSeries): RawSeries {
  const order = s.ts.map((_, i) => i).sort((a, b) => (s.ts[a] as number) - (s.ts[b] as number) || a - b);
  return { ts: order.map((i) => s.ts[i] as number), values: order.map((i) => s.values[i] as number) };
}

/** A raw window's chunk with head rows merged in (late samples after those already in the chunk at equal times). */
export function rawChunkWith(existing: Uint8Array | undefined, rows: ReadonlyArray<readonly [number, number]>): { count: number; data: Uint8Array } {
  const ts = rows.map((r) => r[0]);
  const values = rows.map((r) => r[1]);
  if (!existing) {
    const sorted = sortRaw({ ts, values });
    return { count: ts.length, data: encodeChunk(sorted.ts, [sorted.values]) };
  }
  const old = decodeChunk(existing);
  const merged = sortRaw({ ts: [...old.ts, ...ts], values: [...(old.columns[0] as Float64Array), ...values] });
  return { count: merged.ts.length, data: encodeChunk(merged.ts, [merged.values]) };
}

/** A rollup window's chunk with head buckets merged in (a head bucket replaces the chunk's). */
export function rollupChunkWith(existing: Uint8Array | undefined, start: number, window: number, head: readonly RollupPoint[]): { count: number; data: Uint8Array } {
  const old: RollupPoint[] = [];
  if (existing) appendRollupChunk(old, existing, start, start + window);
  const points = mergeRollups(old, head);
  return { count: points.length, data: encodeRollups(points) };
}
