import type { Statement } from 'better-sqlite3';
import type { Aggregate } from '../../metrics/aggregate.js';
import { decodeChunk, encodeChunk } from '../../metrics/chunk-codec.js';
import {
  CHUNK_WINDOW_MS, appendRawChunk, appendRollupChunk, compactionCutoff, encodeRollups, expiredChunksBefore, groupByWindow, mergeRollups, rollupRow, sortRaw,
  type RawSeries, type RollupPoint, type RollupTier, type StoredTier,
} from '../../metrics/chunks.js';
import type { Db } from './db.js';

const TABLES = {
  raw: { head: 'raw_head', chunks: 'raw_chunks' },
  '1m': { head: 'rollup_1m_head', chunks: 'rollup_1m_chunks' },
  '1h': { head: 'rollup_1h_head', chunks: 'rollup_1h_chunks' },
} as const;

/** A sample to store: its interned series and the reading. */
export type RawRow = readonly [seriesId: number, ts: number, value: number];

const ROWS_PER_INSERT = 64;

interface TierStatements {
  chunksInRange: Statement<[number, number, number]>;
  chunkAt: Statement<[number, number]>;
  putChunk: Statement<[number, number, number, Buffer]>;
  dropChunksBefore: Statement<[number, number]>;
  deviceChunksAt: Statement<[number, string]>;
}

const asBlob = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/**
 * The metrics database's samples: series interned once as small integers, each tier kept as
 * a durable head of recent rows plus compressed chunks (timestamps delta-of-delta, values as
 * scaled decimals or XOR; see chunk-codec.ts). Reads merge both, so a sample is visible from
 * the moment its batch commits, and compaction can run at any time without changing answers.
 */
export class MetricStore {
  private readonly ids = new Map<string, number>();
  private readonly internSeries;
  private readonly findSeries;
  private readonly seriesOfDevice;
  private readonly seriesAfter;
  private readonly insertRaw;
  private readonly insertRawMany;
  private readonly rawHeadInRange;
  private readonly rawHeadBefore;
  private readonly dropRawHeadBefore;
  private readonly rawHeadOfDevice;
  private readonly recentNames;
  private readonly putRollupRow;
  private readonly rollupHeadInRange;
  private readonly rollupHeadBefore;
  private readonly dropRollupHeadBefore;
  private readonly rollupHeadOfDevice;
  private readonly tiers: Record<StoredTier, TierStatements>;
  /** Where the compaction pass in progress stopped, per tier (0: none in progress): it goes round the series in slices. */
  private readonly cursors = { raw: 0, '1m': 0, '1h': 0 };
  /** The cutoff of each tier's pass in progress, and of its last completed one. */
  private readonly passCutoff: Record<StoredTier, number> = { raw: -Infinity, '1m': -Infinity, '1h': -Infinity };
  private readonly compactedTo: Record<StoredTier, number> = { raw: -Infinity, '1m': -Infinity, '1h': -Infinity };

  constructor(readonly db: Db) {
    this.internSeries = db.prepare<[string, string]>('INSERT OR IGNORE INTO series(device_id, name) VALUES (?, ?)');
    this.findSeries = db.prepare<[string, string]>('SELECT id FROM series WHERE device_id = ? AND name = ?').pluck();
    this.seriesOfDevice = db.prepare<[string]>('SELECT id, name FROM series WHERE device_id = ? ORDER BY name');
    this.seriesAfter = db.prepare<[number, number]>('SELECT id FROM series WHERE id > ? ORDER BY id LIMIT ?').pluck();
    this.insertRaw = db.prepare<[number, number, number]>('INSERT INTO raw_head(series_id, ts, value) VALUES (?, ?, ?)');
    this.insertRawMany = db.prepare(`INSERT INTO raw_head(series_id, ts, value) VALUES ${Array<string>(ROWS_PER_INSERT).fill('(?,?,?)').join(',')}`);
    this.rawHeadInRange = db.prepare<[number, number, number]>('SELECT ts, value FROM raw_head WHERE series_id = ? AND ts >= ? AND ts < ? ORDER BY ts').raw();
    this.rawHeadBefore = db.prepare<[number, number]>('SELECT ts, value FROM raw_head WHERE series_id = ? AND ts < ? ORDER BY ts').raw();
    this.dropRawHeadBefore = db.prepare<[number, number]>('DELETE FROM raw_head WHERE series_id = ? AND ts < ?');
    this.rawHeadOfDevice = db.prepare<[string, number, number]>(
      'SELECT h.series_id, h.ts, h.value FROM series s JOIN raw_head h ON h.series_id = s.id WHERE s.device_id = ? AND h.ts >= ? AND h.ts < ?',
    ).raw();
    this.recentNames = db.prepare<[string, number, number]>(`SELECT name FROM series s WHERE device_id = ?
      AND (EXISTS (SELECT 1 FROM raw_head WHERE series_id = s.id AND ts >= ?) OR EXISTS (SELECT 1 FROM raw_chunks WHERE series_id = s.id AND start > ?))
      ORDER BY name`).pluck();
    const rollupStatements = <T>(make: (table: string) => T): Record<RollupTier, T> => ({ '1m': make(TABLES['1m'].head), '1h': make(TABLES['1h'].head) });
    this.putRollupRow = rollupStatements((t) =>
      db.prepare<[number, number, number, number, number, number]>(`INSERT OR REPLACE INTO ${t}(series_id, bucket, count, sum, min, max) VALUES (?, ?, ?, ?, ?, ?)`),
    );
    this.rollupHeadInRange = rollupStatements((t) =>
      db.prepare<[number, number, number]>(`SELECT bucket, count, sum, min, max FROM ${t} WHERE series_id = ? AND bucket >= ? AND bucket < ? ORDER BY bucket`).raw(),
    );
    this.rollupHeadBefore = rollupStatements((t) =>
      db.prepare<[number, number]>(`SELECT bucket, count, sum, min, max FROM ${t} WHERE series_id = ? AND bucket < ? ORDER BY bucket`).raw(),
    );
    this.dropRollupHeadBefore = rollupStatements((t) => db.prepare<[number, number]>(`DELETE FROM ${t} WHERE series_id = ? AND bucket < ?`));
    this.rollupHeadOfDevice = rollupStatements((t) =>
      db.prepare<[string, number, number]>(
        `SELECT h.series_id, h.bucket, h.count, h.sum, h.min, h.max FROM series s JOIN ${t} h ON h.series_id = s.id WHERE s.device_id = ? AND h.bucket >= ? AND h.bucket < ?`,
      ).raw(),
    );
    const tier = (t: StoredTier): TierStatements => {
      const table = TABLES[t].chunks;
      return {
        chunksInRange: db.prepare(`SELECT start, data FROM ${table} WHERE series_id = ? AND start >= ? AND start < ? ORDER BY start`).raw(),
        chunkAt: db.prepare(`SELECT data FROM ${table} WHERE series_id = ? AND start = ?`).pluck(),
        putChunk: db.prepare(`INSERT OR REPLACE INTO ${table}(series_id, start, count, data) VALUES (?, ?, ?, ?)`),
        dropChunksBefore: db.prepare(`DELETE FROM ${table} WHERE (start, series_id) IN (SELECT start, series_id FROM ${table} WHERE start < ? ORDER BY start LIMIT ?)`),
        deviceChunksAt: db.prepare<[number, string]>(`SELECT c.series_id, c.data FROM series s JOIN ${table} c ON c.series_id = s.id AND c.start = ? WHERE s.device_id = ?`).raw(),
      };
    };
    this.tiers = { raw: tier('raw'), '1m': tier('1m'), '1h': tier('1h') };
  }

  /** The series id of a device's metric, created on first use; cached, since every sample needs it. */
  seriesId(deviceId: string, name: string): number {
    const key = `${deviceId}\u0000${name}`;
    let id = this.ids.get(key);
    if (id === undefined) {
      this.internSeries.run(deviceId, name);
      id = this.findSeries.get(deviceId, name) as number;
      this.ids.set(key, id);
    }
    return id;
  }

  /** Empties the id cache (after a rolled-back transaction that may have created series). */
  forgetSeriesIds(): void {
    this.ids.clear();
  }

  /** The id of an existing series, or undefined (reads never create one). */
  existingSeriesId(deviceId: string, name: string): number | undefined {
    return this.ids.get(`${deviceId}\u0000${name}`) ?? (this.findSeries.get(deviceId, name) as number | undefined);
  }

  seriesOf(deviceId: string): Array<{ id: number; name: string }> {
    return this.seriesOfDevice.all(deviceId) as Array<{ id: number; name: string }>;
  }

  /** Appends raw samples to the head; the caller's transaction makes them durable. */
  appendRaw(rows: readonly RawRow[]): void {
    const params: number[] = [];
    let i = 0;
    for (; i + ROWS_PER_INSERT <= rows.length; i += ROWS_PER_INSERT) {
      params.length = 0;
      for (let j = i; j < i + ROWS_PER_INSERT; j++) params.push(...(rows[j] as RawRow));
      this.insertRawMany.run(params);
    }
    for (; i < rows.length; i++) this.insertRaw.run(...(rows[i] as RawRow));
  }

  /** Raw samples of a series with from <= ts < to, in time order (head and chunks merged). */
  readRaw(seriesId: number, from: number, to: number): RawSeries {
    const out: RawSeries = { ts: [], values: [] };
    const window = CHUNK_WINDOW_MS.raw;
    for (const [, data] of this.tiers.raw.chunksInRange.all(seriesId, Math.floor(from / window) * window, to) as Array<[number, Buffer]>) {
      appendRawChunk(out, data, from, to);
    }
    const head = this.rawHeadInRange.all(seriesId, from, to) as Array<[number, number]>;
    if (head.length === 0) return out;
    const sorted = out.ts.length === 0 || (head[0] as [number, number])[0] >= (out.ts.at(-1) as number);
    for (const [t, v] of head) {
      out.ts.push(t);
      out.values.push(v);
    }
    return sorted ? out : sortRaw(out);
  }

  /** Raw samples of all of a device's series in [from, to), by series id (for minute rollups). */
  readDeviceRaw(deviceId: string, from: number, to: number): Map<number, number[]> {
    const bySeries = new Map<number, number[]>();
    const add = (id: number, v: number) => {
      let list = bySeries.get(id);
      if (!list) bySeries.set(id, (list = []));
      list.push(v);
    };
    const window = CHUNK_WINDOW_MS.raw;
    for (let start = Math.floor(from / window) * window; start < to; start += window) {
      for (const [id, data] of this.tiers.raw.deviceChunksAt.all(start, deviceId) as Array<[number, Buffer]>) {
        const chunk = decodeChunk(data);
        const values = chunk.columns[0] as Float64Array;
        for (let i = 0; i < chunk.ts.length; i++) {
          const t = chunk.ts[i] as number;
          if (t >= from && t < to) add(id, values[i] as number);
        }
      }
    }
    for (const [id, , v] of this.rawHeadOfDevice.all(deviceId, from, to) as Array<[number, number, number]>) add(id, v);
    return bySeries;
  }

  /** Writes (or replaces) one rollup bucket. */
  putRollup(tier: RollupTier, seriesId: number, bucket: number, a: Aggregate): void {
    this.putRollupRow[tier].run(seriesId, bucket, a.count, a.sum, a.min, a.max);
  }

  /** Rollup buckets of a series with from <= bucket < to, in order; a head row replaces a chunk's bucket. */
  readRollup(tier: RollupTier, seriesId: number, from: number, to: number): RollupPoint[] {
    const window = CHUNK_WINDOW_MS[tier];
    const points: RollupPoint[] = [];
    for (const [, data] of this.tiers[tier].chunksInRange.all(seriesId, Math.floor(from / window) * window, to) as Array<[number, Buffer]>) {
      appendRollupChunk(points, data, from, to);
    }
    const head = (this.rollupHeadInRange[tier].all(seriesId, from, to) as Array<[number, number, number, number, number]>).map(rollupRow);
    return mergeRollups(points, head);
  }

  /** Rollup buckets of all of a device's series in [from, to), by series id (for hour rollups). */
  readDeviceRollup(tier: RollupTier, deviceId: string, from: number, to: number): Map<number, RollupPoint[]> {
    const chunks = new Map<number, RollupPoint[]>();
    const window = CHUNK_WINDOW_MS[tier];
    for (let start = Math.floor(from / window) * window; start < to; start += window) {
      for (const [id, data] of this.tiers[tier].deviceChunksAt.all(start, deviceId) as Array<[number, Buffer]>) {
        let list = chunks.get(id);
        if (!list) chunks.set(id, (list = []));
        appendRollupChunk(list, data, from, to);
      }
    }
    const heads = new Map<number, RollupPoint[]>();
    for (const [id, ...row] of this.rollupHeadOfDevice[tier].all(deviceId, from, to) as Array<[number, number, number, number, number, number]>) {
      let list = heads.get(id);
      if (!list) heads.set(id, (list = []));
      list.push(rollupRow(row));
    }
    const out = new Map<number, RollupPoint[]>();
    for (const id of new Set([...chunks.keys(), ...heads.keys()])) {
      out.set(id, mergeRollups(chunks.get(id) ?? [], (heads.get(id) ?? []).sort((a, b) => a.bucket - b.bucket)));
    }
    return out;
  }

  /** Names of a device's metrics with a raw sample at or after `since`. */
  namesSince(deviceId: string, since: number): string[] {
    // A chunk whose window ends after `since` (start + window > since) may hold such a sample.
    return this.recentNames.all(deviceId, since, since - CHUNK_WINDOW_MS.raw) as string[];
  }

  /** Every series with raw samples since `since`, with its newest one (to seed the latest-value cache). */
  *latestSince(since: number): Generator<{ deviceId: string; name: string; ts: number; value: number }> {
    for (const { id, device_id: deviceId, name } of this.db.prepare('SELECT id, device_id, name FROM series').iterate() as Iterable<{ id: number; device_id: string; name: string }>) {
      const raw = this.readRaw(id, since, Number.MAX_SAFE_INTEGER);
      const last = raw.ts.length - 1;
      if (last >= 0) yield { deviceId, name, ts: raw.ts[last] as number, value: raw.values[last] as number };
    }
  }

  /**
   * Moves head rows of closed windows into chunks (merging with a chunk already there, for
   * late samples), tier by tier, series by series, in transactions of `seriesPerTx` series,
   * until done or `budgetMs` is spent. Returns the chunks written and whether work remains.
   * A tier is only gone through when its cutoff has moved since its last complete pass (every
   * 10 min for raw, 2 h and 5 days for the rollups): rows that arrive late below an old cutoff
   * stay readable in the head until then. Nothing but the clock decides, so any node may run it.
   */
  compact(now: number, budgetMs = 20, seriesPerTx = 100): { chunks: number; more: boolean } {
    const started = performance.now();
    let chunks = 0;
    for (const tier of ['raw', '1m', '1h'] as const) {
      if (this.cursors[tier] === 0) {
        const cutoff = compactionCutoff(tier, now);
        if (cutoff <= this.compactedTo[tier]) continue;
        this.passCutoff[tier] = cutoff;
      }
      const cutoff = this.passCutoff[tier];
      for (;;) {
        const ids = this.seriesAfter.all(this.cursors[tier], seriesPerTx) as number[];
        if (ids.length === 0) {
          this.cursors[tier] = 0;
          this.compactedTo[tier] = cutoff;
          break;
        }
        chunks += this.db.transaction(() => ids.reduce((n, id) => n + this.compactSeries(tier, id, cutoff), 0))();
        this.cursors[tier] = ids.at(-1) as number;
        if (performance.now() - started >= budgetMs) return { chunks, more: true };
      }
    }
    return { chunks, more: false };
  }

  /**
   * Drops the chunks of windows that ended before each tier's cutoff, `perStatement` at a time,
   * until none is left or `budgetMs` is spent. Whole chunks go: a chunk is kept while any of its
   * window is inside retention. (Head rows never expire there: compaction moves closed windows
   * out of the head first.)
   */
  dropExpired(cutoffs: Readonly<Record<StoredTier, number>>, budgetMs = 50, perStatement = 2_000): { chunks: number; more: boolean } {
    const started = performance.now();
    let chunks = 0;
    for (const tier of ['raw', '1m', '1h'] as const) {
      const before = expiredChunksBefore(tier, cutoffs[tier]);
      for (;;) {
        const changes = this.tiers[tier].dropChunksBefore.run(before, perStatement).changes;
        chunks += changes;
        if (performance.now() - started >= budgetMs) return { chunks, more: true };
        if (changes < perStatement) break;
      }
    }
    return { chunks, more: false };
  }

  private compactSeries(tier: StoredTier, id: number, cutoff: number): number {
    const window = CHUNK_WINDOW_MS[tier];
    const { chunkAt, putChunk } = this.tiers[tier];
    if (tier === 'raw') {
      const rows = this.rawHeadBefore.all(id, cutoff) as Array<[number, number]>;
      if (rows.length === 0) return 0;
      let written = 0;
      for (const [start, group] of groupByWindow(rows, window)) {
        const ts = group.map((r) => r[0]);
        const values = group.map((r) => r[1]);
        const existing = chunkAt.get(id, start) as Buffer | undefined;
        if (existing) {
          const old = decodeChunk(existing);
          const merged = sortRaw({ ts: [...old.ts, ...ts], values: [...(old.columns[0] as Float64Array), ...values] });
          putChunk.run(id, start, merged.ts.length, asBlob(encodeChunk(merged.ts, [merged.values])));
        } else {
          putChunk.run(id, start, ts.length, asBlob(encodeChunk(ts, [values])));
        }
        written++;
      }
      this.dropRawHeadBefore.run(id, cutoff);
      return written;
    }
    const rows = (this.rollupHeadBefore[tier].all(id, cutoff) as Array<[number, number, number, number, number]>).map(rollupRow);
    if (rows.length === 0) return 0;
    let written = 0;
    for (const [start, group] of groupByWindow(rows.map((r) => [r.bucket, r] as const), window)) {
      const existing = chunkAt.get(id, start) as Buffer | undefined;
      const old: RollupPoint[] = [];
      if (existing) appendRollupChunk(old, existing, start, start + window);
      const points = mergeRollups(old, group.map((g) => g[1]));
      putChunk.run(id, start, points.length, asBlob(encodeRollups(points)));
      written++;
    }
    this.dropRollupHeadBefore[tier].run(id, cutoff);
    return written;
  }
}
