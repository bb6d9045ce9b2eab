import type pg from 'pg';
import { TELEMETRY_LIMITS } from '../../../protocol/index.js';
import { aggregate, mergeAggregates } from '../../metrics/aggregate.js';
import { decodeChunk } from '../../metrics/chunk-codec.js';
import {
  CHUNK_WINDOW_MS, HOUR_MS, MINUTE_MS, appendRawChunk, appendRollupChunk, compactionCutoff, expiredChunksBefore, mergeRollups, rawChunkWith,
  rollupChunkWith, sortRaw, type RawSeries, type RollupPoint, type RollupTier, type StoredTier,
} from '../../metrics/chunks.js';
import type {
  CompactionProgress, IncomingBatch, LatestSample, MetricEngine, RetentionProgress, RollupProgress, StoredBatch,
} from '../../metrics/metric-engine.js';
import type { RetentionPolicy } from '../../metrics/retention.js';
import { searchVector } from './log-search-text.js';

const DAY = 24 * HOUR_MS;
const TIERS = ['raw', '1m', '1h'] as const;
const HEAD: Readonly<Record<StoredTier, string>> = { raw: 'raw_head', '1m': 'rollup_1m_head', '1h': 'rollup_1h_head' };
const CHUNKS: Readonly<Record<StoredTier, string>> = { raw: 'raw_chunks', '1m': 'rollup_1m_chunks', '1h': 'rollup_1h_chunks' };
/** First key of the advisory locks compaction takes per series (the second is the series id). */
const COMPACTION_LOCK = 74_152_631;

type Row = Record<string, unknown>;
const num = (v: unknown): number => v as number;
const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const seriesKey = (deviceId: string, name: string): string => `${deviceId}\u0000${name}`;

/**
 * The metric engine on PostgreSQL, with the same tables, chunk windows and codec as SQLite.
 * A flush is one transaction of a few set-based statements (rows passed as arrays and expanded
 * with unnest), whatever its size. Everything that must hold with several nodes writing at
 * once is a statement's job, never a read followed by a write:
 * - a batch is stored once: INSERT ... ON CONFLICT DO NOTHING RETURNING tells which batches are
 *   new; a concurrent flush of the same batch waits for the first and then finds it there;
 * - a series is interned with INSERT ... ON CONFLICT DO NOTHING in its own committed statement,
 *   then read back (a later statement sees the row another node committed meanwhile);
 * - a dirty mark is claimed by deleting it (FOR UPDATE SKIP LOCKED), and a flush touches its mark
 *   (ON CONFLICT DO UPDATE) so that the claim waits for the samples behind it, or skips the mark
 *   until they are committed: a rollup never misses a sample its mark stood for;
 * - compaction takes a series' head rows with DELETE ... RETURNING (exactly those rows go into the
 *   chunk) under a per-series advisory lock (two nodes never merge into the same chunk at once);
 * - every read of head and chunks is one statement, so it sees one snapshot.
 */
export class PostgresMetricEngine implements MetricEngine {
  /** Flushes in flight: each holds a pooled connection for a few round trips, and commits overlap (group commit). */
  readonly concurrentFlushes = 4;
  /** Interned series ids; series rows are committed on their own, so no rollback can take one away. */
  private readonly ids = new Map<string, number>();
  private readonly cursors: Record<StoredTier, number> = { raw: 0, '1m': 0, '1h': 0 };
  private readonly passCutoff: Record<StoredTier, number> = { raw: -Infinity, '1m': -Infinity, '1h': -Infinity };
  private readonly compactedTo: Record<StoredTier, number> = { raw: -Infinity, '1m': -Infinity, '1h': -Infinity };
  private chunksDone = false;

  constructor(private readonly pool: pg.Pool, private readonly now: () => number = Date.now) {}

  async ingest(entries: readonly IncomingBatch[]): Promise<Array<StoredBatch | null>> {
    if (entries.length === 0) return [];
    const ids = await this.seriesIds(entries.flatMap(({ deviceId, batch }) => batch.metrics.map((m) => [deviceId, m.name] as const)));
    // Each distinct (device, seq) once, sorted: concurrent flushes then take the unique keys in one order (no deadlock).
    const keyIndex = new Map<string, number>();
    for (const key of entries.map((e) => `${e.deviceId}\u0000${e.batch.seq}`).sort()) if (!keyIndex.has(key)) keyIndex.set(key, keyIndex.size + 1);
    const keys = [...keyIndex.keys()].map((k) => [k.slice(0, k.indexOf('\u0000')), Number(k.slice(k.indexOf('\u0000') + 1))] as const);
    // Samples and log lines of the first copy of each batch in the flush, with the (1-based) index of their batch key.
    const series: number[] = [];
    const ts: number[] = [];
    const values: number[] = [];
    const sampleKey: number[] = [];
    const lines: Array<{ key: number; entry: number; line: IncomingBatch['batch']['logs'][number] }> = [];
    const first = new Map<number, number>();
    entries.forEach(({ deviceId, batch }, i) => {
      const key = keyIndex.get(`${deviceId}\u0000${batch.seq}`) as number;
      if (first.has(key)) return;
      first.set(key, i);
      for (const m of batch.metrics) {
        series.push(ids.get(seriesKey(deviceId, m.name)) as number);
        ts.push(m.ts);
        values.push(m.value);
        sampleKey.push(key);
      }
      for (const line of batch.logs) lines.push({ key, entry: i, line });
    });
    // One statement, so one atomic write and one round trip: the batches that are new decide
    // which samples, dirty marks and log lines go in. Log ids are drawn in the statement and
    // returned with each line's position, so each stored line knows its own.
    const { rows } = await this.pool.query({
      name: 'metrics.ingest',
      text: `WITH keys AS (SELECT * FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS k(d, s, i)),
        fresh AS (
          INSERT INTO telemetry_batches(device_id, seq, received_at) SELECT d, s, $3 FROM keys ORDER BY d, s
          ON CONFLICT DO NOTHING RETURNING device_id, seq),
        stored AS (SELECT k.i, k.d FROM fresh f JOIN keys k ON k.d = f.device_id AND k.s = f.seq),
        samples AS (
          SELECT r.series_id, r.ts, r.value, st.d FROM unnest($4::int[], $5::bigint[], $6::float8[], $7::bigint[]) AS r(series_id, ts, value, b)
          JOIN stored st ON st.i = r.b),
        raw AS (INSERT INTO raw_head(series_id, ts, value) SELECT series_id, ts, value FROM samples ORDER BY ts),
        dirty AS (
          INSERT INTO rollup_dirty(tier, device_id, bucket)
          SELECT '1m', d, bucket FROM (SELECT DISTINCT d, ts - mod(ts, ${MINUTE_MS}) AS bucket FROM samples) m ORDER BY bucket, d
          ON CONFLICT (tier, bucket, device_id) DO UPDATE SET bucket = excluded.bucket),
        lines AS (
          SELECT nextval(pg_get_serial_sequence('logs', 'id')) AS id, l.n, l.ts, l.level, l.source, l.message, l.search, st.d
          FROM unnest($8::bigint[], $9::bigint[], $10::text[], $11::text[], $12::text[], $13::text[]) WITH ORDINALITY AS l(b, ts, level, source, message, search, n)
          JOIN stored st ON st.i = l.b),
        logged AS (
          INSERT INTO logs(id, device_id, ts, level, source, message, search)
          SELECT id, d, ts, level, source, message, search::tsvector FROM lines)
      SELECT 0 AS part, i AS n, NULL::bigint AS id FROM stored
      UNION ALL SELECT 1, n, id FROM lines`,
      values: [
        keys.map((k) => k[0]), keys.map((k) => k[1]), this.now(),
        series, ts, values, sampleKey,
        lines.map((l) => l.key), lines.map((l) => l.line.ts), lines.map((l) => l.line.level), lines.map((l) => l.line.source), lines.map((l) => l.line.message),
        // The search tokens SQLite's FTS5 would make, so that both engines find the same lines (log-search-text.ts).
        lines.map((l) => searchVector(l.line.message, l.line.source)),
      ],
    });
    const results: Array<StoredBatch | null> = entries.map(() => null);
    const logIds = new Map<number, number>();
    for (const r of rows as Row[]) {
      if (r.part === 1) {
        logIds.set(num(r.n), num(r.id));
        continue;
      }
      const i = first.get(num(r.n)) as number;
      const { deviceId, batch } = entries[i] as IncomingBatch;
      results[i] = { deviceId, metrics: batch.metrics, logs: [] };
    }
    lines.forEach(({ entry, line }, n) => {
      const id = logIds.get(n + 1);
      if (id !== undefined) results[entry]?.logs.push({ ...line, id });
    });
    return results;
  }

  async readRaw(deviceId: string, name: string, from: number, to: number): Promise<RawSeries> {
    const window = CHUNK_WINDOW_MS.raw;
    const { rows } = await this.pool.query({
      name: 'metrics.read-raw',
      text: `SELECT 0 AS part, c.start AS t, NULL::float8 AS value, c.data FROM series s JOIN raw_chunks c ON c.series_id = s.id
               WHERE s.device_id = $1 AND s.name = $2 AND c.start >= $3 AND c.start < $5
             UNION ALL
             SELECT 1, h.ts, h.value, NULL FROM series s JOIN raw_head h ON h.series_id = s.id
               WHERE s.device_id = $1 AND s.name = $2 AND h.ts >= $4 AND h.ts < $5
             ORDER BY part, t`,
      values: [deviceId, name, Math.floor(from / window) * window, from, to],
    });
    const out: RawSeries = { ts: [], values: [] };
    let chunkEnd = -Infinity;
    let sorted = true;
    for (const r of rows as Row[]) {
      if (r.part === 0) {
        appendRawChunk(out, r.data as Buffer, from, to);
        chunkEnd = out.ts.at(-1) ?? chunkEnd;
      } else {
        if (num(r.t) < chunkEnd) sorted = false;
        out.ts.push(num(r.t));
        out.values.push(num(r.value));
      }
    }
    return sorted ? out : sortRaw(out);
  }

  async readRollup(tier: RollupTier, deviceId: string, name: string, from: number, to: number): Promise<RollupPoint[]> {
    const window = CHUNK_WINDOW_MS[tier];
    const { rows } = await this.pool.query({
      name: `metrics.read-${tier}`,
      text: `SELECT 0 AS part, c.start AS t, NULL::int AS count, NULL::float8 AS sum, NULL::float8 AS min, NULL::float8 AS max, c.data
               FROM series s JOIN ${CHUNKS[tier]} c ON c.series_id = s.id WHERE s.device_id = $1 AND s.name = $2 AND c.start >= $3 AND c.start < $5
             UNION ALL
             SELECT 1, h.bucket, h.count, h.sum, h.min, h.max, NULL
               FROM series s JOIN ${HEAD[tier]} h ON h.series_id = s.id WHERE s.device_id = $1 AND s.name = $2 AND h.bucket >= $4 AND h.bucket < $5
             ORDER BY part, t`,
      values: [deviceId, name, Math.floor(from / window) * window, from, to],
    });
    const chunks: RollupPoint[] = [];
    const head: RollupPoint[] = [];
    for (const r of rows as Row[]) {
      if (r.part === 0) appendRollupChunk(chunks, r.data as Buffer, from, to);
      else head.push({ bucket: num(r.t), count: num(r.count), sum: num(r.sum), min: num(r.min), max: num(r.max) });
    }
    return mergeRollups(chunks, head);
  }

  async seriesNames(deviceId: string): Promise<string[]> {
    const { rows } = await this.pool.query('SELECT name FROM series WHERE device_id = $1 ORDER BY name COLLATE "C"', [deviceId]);
    return rows.map((r: Row) => r.name as string);
  }

  async namesSince(deviceId: string, since: number): Promise<string[]> {
    // A chunk whose window ends after `since` (start + window > since) may hold such a sample.
    const { rows } = await this.pool.query(
      `SELECT name FROM series s WHERE device_id = $1
         AND (EXISTS (SELECT 1 FROM raw_head WHERE series_id = s.id AND ts >= $2) OR EXISTS (SELECT 1 FROM raw_chunks WHERE series_id = s.id AND start > $3))
       ORDER BY name COLLATE "C"`,
      [deviceId, since, since - CHUNK_WINDOW_MS.raw],
    );
    return rows.map((r: Row) => r.name as string);
  }

  async latestSince(since: number): Promise<LatestSample[]> {
    const { rows } = await this.pool.query(
      `SELECT 0 AS part, s.id, s.device_id, s.name, NULL::bigint AS ts, NULL::float8 AS value, c.data
         FROM (SELECT DISTINCT ON (series_id) series_id, data FROM raw_chunks WHERE start > $2 ORDER BY series_id, start DESC) c JOIN series s ON s.id = c.series_id
       UNION ALL
       SELECT 1, s.id, s.device_id, s.name, h.ts, h.value, NULL
         FROM (SELECT DISTINCT ON (series_id) series_id, ts, value FROM raw_head WHERE ts >= $1 ORDER BY series_id, ts DESC) h JOIN series s ON s.id = h.series_id
       ORDER BY part`,
      [since, since - CHUNK_WINDOW_MS.raw],
    );
    const latest = new Map<number, LatestSample>();
    for (const r of rows as Row[]) {
      let ts = num(r.ts);
      let value = num(r.value);
      if (r.part === 0) {
        const chunk = decodeChunk(r.data as Buffer);
        const last = chunk.ts.length - 1;
        if (last < 0 || (chunk.ts[last] as number) < since) continue;
        ts = chunk.ts[last] as number;
        value = (chunk.columns[0] as Float64Array)[last] as number;
      }
      const current = latest.get(num(r.id));
      // Equal times: the head's sample arrived later than the chunk's.
      if (!current || ts >= current.ts) latest.set(num(r.id), { deviceId: r.device_id as string, name: r.name as string, ts, value });
    }
    return [...latest.values()];
  }

  async rollup(now: number, budgetMs = 20, chunk = 200): Promise<RollupProgress> {
    const started = performance.now();
    let minutes = 0;
    let hours = 0;
    const spent = () => performance.now() - started >= budgetMs;
    for (;;) {
      const n = await this.transaction((client) => this.rollupMinutes(client, now - MINUTE_MS, chunk));
      if (n === 0) break;
      minutes += n;
      if (spent()) return { minutes, hours, more: true };
    }
    for (;;) {
      const n = await this.transaction((client) => this.rollupHours(client, now - HOUR_MS, chunk));
      if (n === 0) break;
      hours += n;
      if (spent()) return { minutes, hours, more: true };
    }
    return { minutes, hours, more: false };
  }

  async compact(now: number, budgetMs = 20, seriesPerTx = 100): Promise<CompactionProgress> {
    const started = performance.now();
    let chunks = 0;
    for (const tier of TIERS) {
      if (this.cursors[tier] === 0) {
        const cutoff = compactionCutoff(tier, now);
        if (cutoff <= this.compactedTo[tier]) continue;
        this.passCutoff[tier] = cutoff;
      }
      const cutoff = this.passCutoff[tier];
      for (;;) {
        const { rows } = await this.pool.query('SELECT id FROM series WHERE id > $1 ORDER BY id LIMIT $2', [this.cursors[tier], seriesPerTx]);
        const ids = rows.map((r: Row) => num(r.id));
        if (ids.length === 0) {
          this.cursors[tier] = 0;
          this.compactedTo[tier] = cutoff;
          break;
        }
        chunks += await this.transaction((client) => this.compactSeries(client, tier, ids, cutoff));
        this.cursors[tier] = ids.at(-1) as number;
        if (performance.now() - started >= budgetMs) return { chunks, more: true };
      }
    }
    return { chunks, more: false };
  }

  async dropExpired(now: number, policy: RetentionPolicy, budgetMs = 50, chunk = 5_000): Promise<RetentionProgress> {
    const started = performance.now();
    const spent = () => performance.now() - started >= budgetMs;
    const deleted: Record<string, number> = { chunks: 0 };
    if (!this.chunksDone) {
      const cutoffs: Record<StoredTier, number> = { raw: now - policy.rawMs, '1m': now - policy.minuteMs, '1h': now - policy.hourMs };
      const perStatement = 2_000;
      for (const tier of TIERS) {
        const table = CHUNKS[tier];
        for (;;) {
          const { rowCount } = await this.pool.query(
            `DELETE FROM ${table} WHERE (start, series_id) IN (SELECT start, series_id FROM ${table} WHERE start < $1 ORDER BY start LIMIT $2)`,
            [expiredChunksBefore(tier, cutoffs[tier]), perStatement],
          );
          deleted.chunks = (deleted.chunks ?? 0) + (rowCount ?? 0);
          if (spent()) return { deleted, more: true };
          if ((rowCount ?? 0) < perStatement) break;
        }
      }
      this.chunksDone = true;
    }
    const expire = [
      { table: 'logs', sql: 'DELETE FROM logs WHERE id IN (SELECT id FROM logs WHERE ts < $1 LIMIT $2)', before: now - policy.logsMs },
      { table: 'alert_events', sql: 'DELETE FROM alert_events WHERE id IN (SELECT id FROM alert_events WHERE ts < $1 LIMIT $2)', before: now - policy.alertEventsMs },
      // A resend is only possible while its samples pass the clock-skew check; dedup records older than that are useless.
      {
        table: 'telemetry_batches',
        sql: 'DELETE FROM telemetry_batches WHERE (device_id, seq) IN (SELECT device_id, seq FROM telemetry_batches WHERE received_at < $1 LIMIT $2)',
        before: now - TELEMETRY_LIMITS.maxClockSkewMs - DAY,
      },
    ];
    for (const { table, sql, before } of expire) {
      deleted[table] = 0;
      for (;;) {
        const changes = (await this.pool.query(sql, [before, chunk])).rowCount ?? 0;
        deleted[table] += changes;
        if (spent()) return { deleted, more: true };
        if (changes < chunk) break;
      }
    }
    this.chunksDone = false;
    return { deleted, more: false };
  }

  /** Ids of the given (device, metric) series, interning the new ones (each statement commits on its own). */
  private async seriesIds(keys: ReadonlyArray<readonly [string, string]>): Promise<Map<string, number>> {
    const missing = new Map<string, readonly [string, string]>();
    for (const [deviceId, name] of keys) {
      const key = seriesKey(deviceId, name);
      if (!this.ids.has(key)) missing.set(key, [deviceId, name]);
    }
    if (missing.size > 0) {
      const devices = [...missing.values()].map((k) => k[0]);
      const names = [...missing.values()].map((k) => k[1]);
      // Sorted: concurrent interning of overlapping series takes the unique keys in one order.
      await this.pool.query(
        'INSERT INTO series(device_id, name) SELECT d, n FROM unnest($1::text[], $2::text[]) AS k(d, n) ORDER BY d, n ON CONFLICT DO NOTHING',
        [devices, names],
      );
      const { rows } = await this.pool.query(
        'SELECT s.id, s.device_id, s.name FROM series s JOIN unnest($1::text[], $2::text[]) AS k(d, n) ON s.device_id = k.d AND s.name = k.n',
        [devices, names],
      );
      for (const r of rows as Row[]) this.ids.set(seriesKey(r.device_id as string, r.name as string), num(r.id));
    }
    return this.ids;
  }

  /** Marks (or touches: the row lock makes a concurrent claim wait for this transaction) dirty buckets, keys `${bucket}\0${device}`. */
  private async markDirty(client: pg.PoolClient, tier: RollupTier, keys: ReadonlySet<string>): Promise<void> {
    if (keys.size === 0) return;
    const split = [...keys].map((k) => [Number(k.slice(0, k.indexOf('\u0000'))), k.slice(k.indexOf('\u0000') + 1)] as const);
    await client.query({
      name: `metrics.dirty-${tier}`,
      text: `INSERT INTO rollup_dirty(tier, device_id, bucket)
             SELECT $3, d, b FROM unnest($1::text[], $2::bigint[]) AS k(d, b) ORDER BY b, d
             ON CONFLICT (tier, bucket, device_id) DO UPDATE SET bucket = excluded.bucket`,
      values: [split.map((k) => k[1]), split.map((k) => k[0]), tier],
    });
  }

  /** Claims up to `limit` dirty buckets of `tier` at or before `before` that no other transaction holds. */
  private async claimDirty(client: pg.PoolClient, tier: RollupTier, before: number, limit: number): Promise<Array<{ deviceId: string; bucket: number }>> {
    const { rows } = await client.query(
      `DELETE FROM rollup_dirty WHERE tier = $1 AND (bucket, device_id) IN (
         SELECT bucket, device_id FROM rollup_dirty WHERE tier = $1 AND bucket <= $2 ORDER BY bucket, device_id LIMIT $3 FOR UPDATE SKIP LOCKED)
       RETURNING device_id, bucket`,
      [tier, before, limit],
    );
    return rows.map((r: Row) => ({ deviceId: r.device_id as string, bucket: num(r.bucket) }));
  }

  private async rollupMinutes(client: pg.PoolClient, before: number, limit: number): Promise<number> {
    const claimed = await this.claimDirty(client, '1m', before, limit);
    if (claimed.length === 0) return 0;
    const window = CHUNK_WINDOW_MS.raw;
    const { rows } = await client.query(
      `WITH k AS (SELECT DISTINCT d, b FROM unnest($1::text[], $2::bigint[]) AS k(d, b))
       SELECT 0 AS part, k.b, s.id, NULL::bigint AS ts, NULL::float8 AS value, c.data
         FROM k JOIN series s ON s.device_id = k.d JOIN raw_chunks c ON c.series_id = s.id AND c.start = k.b - mod(k.b, $3)
       UNION ALL
       SELECT 1, k.b, s.id, h.ts, h.value, NULL
         FROM k JOIN series s ON s.device_id = k.d JOIN raw_head h ON h.series_id = s.id AND h.ts >= k.b AND h.ts < k.b + $4
       ORDER BY part`,
      [claimed.map((c) => c.deviceId), claimed.map((c) => c.bucket), window, MINUTE_MS],
    );
    const values = new Map<string, { id: number; bucket: number; values: number[] }>();
    const add = (id: number, bucket: number, v: number) => {
      const key = `${id}\u0000${bucket}`;
      let entry = values.get(key);
      if (!entry) values.set(key, (entry = { id, bucket, values: [] }));
      entry.values.push(v);
    };
    for (const r of rows as Row[]) {
      const bucket = num(r.b);
      if (r.part === 0) {
        const part: RawSeries = { ts: [], values: [] };
        appendRawChunk(part, r.data as Buffer, bucket, bucket + MINUTE_MS);
        for (const v of part.values) add(num(r.id), bucket, v);
      } else add(num(r.id), bucket, num(r.value));
    }
    const points: Array<{ id: number; bucket: number; a: NonNullable<ReturnType<typeof aggregate>> }> = [];
    for (const { id, bucket, values: list } of values.values()) {
      const a = aggregate(list);
      if (a) points.push({ id, bucket, a });
    }
    await this.putRollups(client, '1m', points);
    await this.markDirty(client, '1h', new Set(claimed.map((c) => `${Math.floor(c.bucket / HOUR_MS) * HOUR_MS}\u0000${c.deviceId}`)));
    return claimed.length;
  }

  private async rollupHours(client: pg.PoolClient, before: number, limit: number): Promise<number> {
    const claimed = await this.claimDirty(client, '1h', before, limit);
    if (claimed.length === 0) return 0;
    const window = CHUNK_WINDOW_MS['1m'];
    const { rows } = await client.query(
      `WITH k AS (SELECT DISTINCT d, b FROM unnest($1::text[], $2::bigint[]) AS k(d, b))
       SELECT 0 AS part, k.b, s.id, NULL::bigint AS bucket, NULL::int AS count, NULL::float8 AS sum, NULL::float8 AS min, NULL::float8 AS max, c.data
         FROM k JOIN series s ON s.device_id = k.d JOIN rollup_1m_chunks c ON c.series_id = s.id AND c.start = k.b - mod(k.b, $3)
       UNION ALL
       SELECT 1, k.b, s.id, h.bucket, h.count, h.sum, h.min, h.max, NULL
         FROM k JOIN series s ON s.device_id = k.d JOIN rollup_1m_head h ON h.series_id = s.id AND h.bucket >= k.b AND h.bucket < k.b + $4
       ORDER BY part, bucket`,
      [claimed.map((c) => c.deviceId), claimed.map((c) => c.bucket), window, HOUR_MS],
    );
    const minutes = new Map<string, { id: number; bucket: number; chunks: RollupPoint[]; head: RollupPoint[] }>();
    for (const r of rows as Row[]) {
      const hour = num(r.b);
      const key = `${num(r.id)}\u0000${hour}`;
      let entry = minutes.get(key);
      if (!entry) minutes.set(key, (entry = { id: num(r.id), bucket: hour, chunks: [], head: [] }));
      if (r.part === 0) appendRollupChunk(entry.chunks, r.data as Buffer, hour, hour + HOUR_MS);
      else entry.head.push({ bucket: num(r.bucket), count: num(r.count), sum: num(r.sum), min: num(r.min), max: num(r.max) });
    }
    const points: Array<{ id: number; bucket: number; a: NonNullable<ReturnType<typeof aggregate>> }> = [];
    for (const { id, bucket, chunks, head } of minutes.values()) {
      const a = mergeAggregates(mergeRollups(chunks.sort((x, y) => x.bucket - y.bucket), head));
      if (a) points.push({ id, bucket, a });
    }
    await this.putRollups(client, '1h', points);
    return claimed.length;
  }

  private async putRollups(client: pg.PoolClient, tier: RollupTier, points: Array<{ id: number; bucket: number; a: { count: number; sum: number; min: number; max: number } }>): Promise<void> {
    if (points.length === 0) return;
    points.sort((x, y) => x.id - y.id || x.bucket - y.bucket);
    await client.query(
      `INSERT INTO ${HEAD[tier]}(series_id, bucket, count, sum, min, max)
       SELECT * FROM unnest($1::int[], $2::bigint[], $3::int[], $4::float8[], $5::float8[], $6::float8[])
       ON CONFLICT (series_id, bucket) DO UPDATE SET count = excluded.count, sum = excluded.sum, min = excluded.min, max = excluded.max`,
      [points.map((p) => p.id), points.map((p) => p.bucket), points.map((p) => p.a.count), points.map((p) => p.a.sum), points.map((p) => p.a.min), points.map((p) => p.a.max)],
    );
  }

  /** Moves the head rows of `ids` before `cutoff` into chunks; returns the chunks written. */
  private async compactSeries(client: pg.PoolClient, tier: StoredTier, ids: readonly number[], cutoff: number): Promise<number> {
    await client.query('SELECT pg_advisory_xact_lock($1, id) FROM unnest($2::int[]) AS id ORDER BY id', [COMPACTION_LOCK, ids]);
    const window = CHUNK_WINDOW_MS[tier];
    const time = tier === 'raw' ? 'ts' : 'bucket';
    const columns = tier === 'raw' ? 'series_id, ts, value' : 'series_id, bucket, count, sum, min, max';
    // What is deleted is exactly what goes into the chunks: a row committed meanwhile stays in the head.
    const taken = await client.query(`DELETE FROM ${HEAD[tier]} WHERE series_id = ANY($1::int[]) AND ${time} < $2 RETURNING ${columns}`, [ids, cutoff]);
    if (taken.rows.length === 0) return 0;
    const groups = new Map<string, { id: number; start: number; rows: Row[] }>();
    for (const r of taken.rows as Row[]) {
      const id = num(r.series_id);
      const start = Math.floor(num(r[time]) / window) * window;
      const key = `${id}\u0000${start}`;
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { id, start, rows: [] }));
      group.rows.push(r);
    }
    const list = [...groups.values()].sort((a, b) => a.id - b.id || a.start - b.start);
    const existing = await client.query(
      `SELECT c.series_id, c.start, c.data FROM ${CHUNKS[tier]} c JOIN unnest($1::int[], $2::bigint[]) AS k(id, start) ON c.series_id = k.id AND c.start = k.start`,
      [list.map((g) => g.id), list.map((g) => g.start)],
    );
    const old = new Map((existing.rows as Row[]).map((r) => [`${num(r.series_id)}\u0000${num(r.start)}`, r.data as Buffer]));
    const chunks = list.map((g) => {
      const prior = old.get(`${g.id}\u0000${g.start}`);
      if (tier === 'raw') {
        const rows = g.rows.map((r) => [num(r.ts), num(r.value)] as const).sort((a, b) => a[0] - b[0]);
        return rawChunkWith(prior, rows);
      }
      const head = g.rows.map((r): RollupPoint => ({ bucket: num(r.bucket), count: num(r.count), sum: num(r.sum), min: num(r.min), max: num(r.max) })).sort((a, b) => a.bucket - b.bucket);
      return rollupChunkWith(prior, g.start, window, head);
    });
    await client.query(
      `INSERT INTO ${CHUNKS[tier]}(series_id, start, count, data) SELECT * FROM unnest($1::int[], $2::bigint[], $3::int[], $4::bytea[])
       ON CONFLICT (start, series_id) DO UPDATE SET count = excluded.count, data = excluded.data`,
      [list.map((g) => g.id), list.map((g) => g.start), chunks.map((c) => c.count), chunks.map((c) => asBuffer(c.data))],
    );
    return list.length;
  }

  private async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((rollbackErr: unknown) => {
        // A connection that cannot even roll back is not given back to the pool.
        broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
      });
      throw err;
    } finally {
      client.release(broken);
    }
  }
}
