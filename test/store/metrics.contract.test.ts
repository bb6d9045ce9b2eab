import { sql } from 'kysely';
import pg from 'pg';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { TetherError, type MetricSample, type TelemetryBatch } from '../../protocol/index.js';
import { HOUR_MS, MINUTE_MS, type RawSeries, type RollupPoint } from '../../backend/metrics/chunks.js';
import type { IncomingBatch, MetricEngine } from '../../backend/metrics/metric-engine.js';
import { LogSearch } from '../../backend/logs/log-search.js';
import { MetricsQueryService } from '../../backend/metrics/metrics-query.js';
import { DEFAULT_RETENTION } from '../../backend/metrics/retention.js';
import { openMetricEngine } from '../../backend/store/open-metric-engine.js';
import type { OpenedStore } from '../../backend/store/open-store.js';
import { PostgresMetricEngine } from '../../backend/store/postgres/metric-engine.js';
import { StoreHealth } from '../../backend/store/store-health.js';
import { IngestQueue } from '../../backend/telemetry/ingest-queue.js';
import { describeEachEngine } from './engines.js';

const NOW = Date.UTC(2025, 5, 1);
const T0 = NOW - 3 * HOUR_MS;
const DEV_A = 'dev_aaaaaaaaaaaaaaaaaaaa';
const DEV_B = 'dev_bbbbbbbbbbbbbbbbbbbb';
const ALL = [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER] as const;

const batch = (seq: number, metrics: MetricSample[], logs: TelemetryBatch['logs'] = []): TelemetryBatch => ({ type: 'batch', seq, metrics, logs });

/** Three hours of two devices: two metrics every 7 s, readings with two decimals (deterministic). */
function fleet(): IncomingBatch[] {
  let seed = 7;
  const random = () => Math.round(((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 10_000) / 100;
  const out: IncomingBatch[] = [];
  let seq = 0;
  for (const deviceId of [DEV_A, DEV_B]) {
    for (let t = T0; t < NOW; t += 35_000) {
      const metrics = [0, 1, 2, 3, 4].flatMap((i) => [
        { ts: t + i * 7_000, name: 'cpu.total', value: random() },
        { ts: t + i * 7_000, name: 'mem.used_pct', value: random() },
      ]);
      out.push({ deviceId, batch: batch(seq++, metrics) });
    }
  }
  return out;
}

/** What the raw tier should answer for a device's metric, straight from the input. */
function expectedRaw(entries: readonly IncomingBatch[], deviceId: string, name: string, from: number, to: number): RawSeries {
  const samples = entries.filter((e) => e.deviceId === deviceId).flatMap((e) => e.batch.metrics.filter((m) => m.name === name && m.ts >= from && m.ts < to));
  samples.sort((a, b) => a.ts - b.ts);
  return { ts: samples.map((s) => s.ts), values: samples.map((s) => s.value) };
}

function expectedRollups(raw: RawSeries, bucketMs: number): RollupPoint[] {
  const out = new Map<number, RollupPoint>();
  raw.ts.forEach((t, i) => {
    const bucket = Math.floor(t / bucketMs) * bucketMs;
    const v = raw.values[i] as number;
    const p = out.get(bucket) ?? { bucket, count: 0, sum: 0, min: Infinity, max: -Infinity };
    out.set(bucket, { bucket, count: p.count + 1, sum: Math.round((p.sum + v) * 100) / 100, min: Math.min(p.min, v), max: Math.max(p.max, v) });
  });
  return [...out.values()];
}

async function ingestAll(engine: MetricEngine, entries: readonly IncomingBatch[], perFlush = 32): Promise<void> {
  for (let i = 0; i < entries.length; i += perFlush) await engine.ingest(entries.slice(i, i + perFlush));
}

async function drain(job: () => Promise<{ more: boolean }>): Promise<void> {
  while ((await job()).more);
}

async function count(store: OpenedStore, table: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`SELECT count(*) AS n FROM ${sql.table(table)}`.execute(store.metrics);
  return Number(rows[0]?.n);
}

/** Every answer the engine gives about the fleet, for before/after comparisons. */
async function snapshot(engine: MetricEngine) {
  const out: Record<string, unknown> = {};
  for (const deviceId of [DEV_A, DEV_B]) {
    for (const name of await engine.seriesNames(deviceId)) {
      out[`${deviceId}/${name}/raw`] = await engine.readRaw(deviceId, name, ...ALL);
      out[`${deviceId}/${name}/1m`] = await engine.readRollup('1m', deviceId, name, ...ALL);
      out[`${deviceId}/${name}/1h`] = await engine.readRollup('1h', deviceId, name, ...ALL);
    }
  }
  return out;
}

describeEachEngine('metric engine', (store) => {
  const engine = (now = () => NOW) => openMetricEngine(store(), now);

  it('answers raw samples, minute and hour rollups equal to what was ingested, through the query service', async () => {
    const metrics = engine();
    const entries = fleet();
    await ingestAll(metrics, entries);
    await drain(() => metrics.rollup(NOW + 2 * HOUR_MS, 10_000));
    expect(await count(store(), 'rollup_dirty')).toBe(0);
    for (const deviceId of [DEV_A, DEV_B]) {
      expect(await metrics.seriesNames(deviceId)).toEqual(['cpu.total', 'mem.used_pct']);
      for (const name of ['cpu.total', 'mem.used_pct']) {
        const raw = expectedRaw(entries, deviceId, name, ...ALL);
        // 309 batches of 5 samples 7 s apart (the last one runs 8 s past NOW).
        expect(raw.ts).toHaveLength(309 * 5);
        expect(await metrics.readRaw(deviceId, name, ...ALL)).toEqual(raw);
        expect(await metrics.readRaw(deviceId, name, T0 + 10 * MINUTE_MS, T0 + 20 * MINUTE_MS)).toEqual(expectedRaw(entries, deviceId, name, T0 + 10 * MINUTE_MS, T0 + 20 * MINUTE_MS));
        // Sums of two-decimal readings are exact on both engines, so whole points compare equal.
        expect(await metrics.readRollup('1m', deviceId, name, ...ALL)).toEqual(expectedRollups(raw, MINUTE_MS));
        expect(await metrics.readRollup('1h', deviceId, name, ...ALL)).toEqual(expectedRollups(raw, HOUR_MS));
      }
    }
    const service = new MetricsQueryService(metrics, DEFAULT_RETENTION, () => NOW);
    const raw = await service.query(DEV_A, { names: ['cpu.total', 'nope'], from: NOW - 15 * MINUTE_MS, to: NOW, step: 0 });
    expect(raw.tier).toBe('raw');
    expect(raw.series[0]?.points.map((p) => p[0])).toEqual(expectedRaw(entries, DEV_A, 'cpu.total', NOW - 15 * MINUTE_MS, NOW).ts);
    expect(raw.series[1]).toEqual({ name: 'nope', points: [] });
    const minute = await service.query(DEV_A, { names: ['cpu.total'], from: T0, to: NOW, step: MINUTE_MS });
    expect(minute.tier).toBe('1m');
    expect(minute.series[0]?.points).toHaveLength(180);
    const hour = await service.query(DEV_B, { names: ['mem.used_pct'], from: NOW - 60 * 24 * HOUR_MS, to: NOW, step: HOUR_MS });
    expect(hour.tier).toBe('1h');
    expect(hour.series[0]?.points.map((p) => p[0])).toEqual([T0, T0 + HOUR_MS, T0 + 2 * HOUR_MS]);
  });

  it('stores a retransmitted batch once, within one flush and across flushes, logs included', async () => {
    const metrics = engine();
    const b = batch(5, [{ ts: T0, name: 'uptime', value: 1 }], [{ ts: T0, level: 'info', source: 'app', message: 'hello' }]);
    const first = await metrics.ingest([{ deviceId: DEV_A, batch: b }, { deviceId: DEV_A, batch: b }, { deviceId: DEV_B, batch: b }]);
    expect(first.map((r) => r !== null)).toEqual([true, false, true]);
    expect(first[0]?.logs).toEqual([{ ts: T0, level: 'info', source: 'app', message: 'hello', id: expect.any(Number) }]);
    expect(first[2]?.logs[0]?.id).not.toBe(first[0]?.logs[0]?.id);
    expect(await metrics.ingest([{ deviceId: DEV_A, batch: b }])).toEqual([null]);
    expect(await metrics.readRaw(DEV_A, 'uptime', ...ALL)).toEqual({ ts: [T0], values: [1] });
    expect(await metrics.readRaw(DEV_B, 'uptime', ...ALL)).toEqual({ ts: [T0], values: [1] });
    expect(await count(store(), 'logs')).toBe(2);
    expect(await count(store(), 'raw_head')).toBe(2);
  });

  it('stores log lines so that the log search finds them by the same tokens on both engines', async () => {
    const metrics = engine();
    const [stored] = await metrics.ingest([{ deviceId: DEV_A, batch: batch(1, [], [
      { ts: T0, level: 'error', source: 'kernel', message: 'disk /dev/sda1 full on host-7.example.org' },
      { ts: T0 + 1, level: 'info', source: 'app', message: 'all good' },
    ]) }]);
    const search = new LogSearch(store().monitoring.logs);
    const found = await search.search({ q: '"host-7.example.org"', limit: 10 });
    expect(found.map((l) => l.id)).toEqual([stored?.logs[0]?.id]);
    expect((await search.search({ q: 'kern*', limit: 10 })).map((l) => l.message)).toEqual(['disk /dev/sda1 full on host-7.example.org']);
    expect((await search.search({ q: 'good', deviceId: DEV_A, limit: 10 })).map((l) => l.id)).toEqual([stored?.logs[1]?.id]);
  });

  it('concurrent flushes of the same batch store it once; concurrent first samples of a new series intern it once', async () => {
    const metrics = engine();
    const b = batch(1, [{ ts: T0, name: 'cpu.total', value: 42 }], [{ ts: T0, level: 'info', source: 'app', message: 'once' }]);
    const results = await Promise.all(Array.from({ length: 12 }, () => metrics.ingest([{ deviceId: DEV_A, batch: b }])));
    expect(results.flat().filter((r) => r !== null)).toHaveLength(1);
    expect(await metrics.readRaw(DEV_A, 'cpu.total', ...ALL)).toEqual({ ts: [T0], values: [42] });
    expect(await count(store(), 'logs')).toBe(1);
    // Separate engines (as on separate nodes, each with its own id cache) interning the same new series at once.
    const nodes = Array.from({ length: 6 }, () => engine());
    const stored = await Promise.all(nodes.map((node, i) => node.ingest([{ deviceId: DEV_B, batch: batch(i, [{ ts: T0 + i, name: 'fresh', value: i }]) }])));
    expect(stored.flat().every((r) => r !== null)).toBe(true);
    expect(await count(store(), 'series')).toBe(2);
    expect((await metrics.readRaw(DEV_B, 'fresh', ...ALL)).values).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('a flush that fails stores nothing of it, so the resend stores it whole', async () => {
    const metrics = engine();
    const good = batch(1, [{ ts: T0, name: 'a', value: 1 }]);
    // A log line that violates NOT NULL makes the whole flush fail after its samples were written.
    const bad = { ...batch(2, [{ ts: T0 + 1, name: 'b', value: 2 }]), logs: [{ ts: T0, level: 'info', source: null, message: 'x' }] } as unknown as TelemetryBatch;
    await expect(metrics.ingest([{ deviceId: DEV_A, batch: good }, { deviceId: DEV_A, batch: bad }])).rejects.toThrow();
    expect(await count(store(), 'telemetry_batches')).toBe(0);
    expect(await count(store(), 'raw_head')).toBe(0);
    expect(await count(store(), 'rollup_dirty')).toBe(0);
    expect((await metrics.ingest([{ deviceId: DEV_A, batch: good }])).map((r) => r !== null)).toEqual([true]);
    expect(await metrics.readRaw(DEV_A, 'a', ...ALL)).toEqual({ ts: [T0], values: [1] });
  });

  it('answers the same after compaction, and keeps the open window in the head', async () => {
    const metrics = engine();
    await ingestAll(metrics, fleet());
    await drain(() => metrics.rollup(NOW + 2 * HOUR_MS, 10_000));
    const before = await snapshot(metrics);
    // Partly: only raw windows closed 2 min before NOW - 45 min; then everything.
    for (const at of [NOW - 45 * MINUTE_MS, NOW + 6 * 24 * HOUR_MS]) {
      await drain(() => metrics.compact(at, 10_000, 1));
      expect(await snapshot(metrics)).toEqual(before);
    }
    expect(await count(store(), 'raw_head')).toBe(0);
    // 3 h of 10-minute windows, and the one the last batch ran into, for 2 series of 2 devices.
    expect(await count(store(), 'raw_chunks')).toBe(2 * 2 * 19);
    expect(await count(store(), 'rollup_1m_chunks')).toBeGreaterThan(0);
    expect(await count(store(), 'rollup_1h_head')).toBe(0);
  });

  it('takes a late sample: readable at once, rolled up on the next run, merged into its compacted chunk on the next pass', async () => {
    const metrics = engine();
    const entries = fleet();
    await ingestAll(metrics, entries);
    await drain(() => metrics.rollup(NOW + 2 * HOUR_MS, 10_000));
    await drain(() => metrics.compact(NOW + 3 * HOUR_MS, 10_000));
    const late = { deviceId: DEV_A, batch: batch(100_000, [{ ts: T0 + 30 * MINUTE_MS + 1, name: 'cpu.total', value: 1_000 }]) };
    await metrics.ingest([late]);
    const all = [...entries, late];
    const raw = expectedRaw(all, DEV_A, 'cpu.total', ...ALL);
    expect(await metrics.readRaw(DEV_A, 'cpu.total', ...ALL)).toEqual(raw);
    expect((await metrics.rollup(NOW + 2 * HOUR_MS, 10_000)).minutes).toBe(1);
    expect(await metrics.readRollup('1m', DEV_A, 'cpu.total', ...ALL)).toEqual(expectedRollups(raw, MINUTE_MS));
    expect(await metrics.readRollup('1h', DEV_A, 'cpu.total', ...ALL)).toEqual(expectedRollups(raw, HOUR_MS));
    expect(await count(store(), 'raw_head')).toBe(1);
    // The same cutoff: nothing to do until the next window closes.
    expect((await metrics.compact(NOW + 3 * HOUR_MS, 10_000)).chunks).toBe(0);
    await drain(() => metrics.compact(NOW + 3 * HOUR_MS + 10 * MINUTE_MS, 10_000));
    expect(await count(store(), 'raw_head')).toBe(0);
    expect(await metrics.readRaw(DEV_A, 'cpu.total', ...ALL)).toEqual(raw);
  });

  it('retention drops whole expired chunks of each tier, old logs and old dedupe records, and keeps the rest', async () => {
    let now = NOW;
    const metrics = engine(() => now);
    await ingestAll(metrics, fleet());
    await metrics.ingest([{ deviceId: DEV_A, batch: batch(900_000, [], [{ ts: NOW - 20 * 24 * HOUR_MS, level: 'info', source: 'app', message: 'old' }, { ts: NOW, level: 'info', source: 'app', message: 'new' }]) }]);
    await drain(() => metrics.rollup(NOW + 2 * HOUR_MS, 10_000));
    await drain(() => metrics.compact(NOW + 3 * HOUR_MS, 10_000));
    now = NOW + 30 * 24 * HOUR_MS;
    await metrics.ingest([{ deviceId: DEV_B, batch: batch(900_001, [{ ts: now, name: 'x', value: 1 }]) }]);
    const policy = { ...DEFAULT_RETENTION, rawMs: HOUR_MS, minuteMs: 2 * HOUR_MS };
    let deleted: Record<string, number> = {};
    for (let more = true; more;) ({ deleted, more } = await metrics.dropExpired(NOW, policy, 10_000));
    // Raw chunks are 10 minutes wide: exactly the last hour is left (its first sample 3 s into it); minute chunks are 2 h wide.
    expect((await metrics.readRaw(DEV_A, 'cpu.total', ...ALL)).ts[0]).toBe(NOW - HOUR_MS + 3_000);
    expect((await metrics.readRollup('1m', DEV_A, 'cpu.total', ...ALL))[0]?.bucket).toBe(NOW - 2 * HOUR_MS);
    // Three hours and the one the last batch ran into.
    expect(await metrics.readRollup('1h', DEV_A, 'cpu.total', ...ALL)).toHaveLength(4);
    expect(await count(store(), 'raw_chunks')).toBe(2 * 2 * 7);
    expect(await count(store(), 'logs')).toBe(1);
    expect(deleted.logs).toBe(1);
    // Dedupe records outlive the clock-skew window: the fleet's are 3 h old at NOW, so all stay.
    expect(await count(store(), 'telemetry_batches')).toBe(fleet().length + 2);
    await metrics.dropExpired(NOW + 10 * 24 * HOUR_MS, policy, 10_000);
    expect(await count(store(), 'telemetry_batches')).toBe(1);
  });

  it('lists recent names and seeds the latest values from head and chunks', async () => {
    const metrics = engine();
    await metrics.ingest([{ deviceId: DEV_A, batch: batch(1, [{ ts: T0, name: 'cpu', value: 1 }, { ts: T0 + 5_000, name: 'cpu', value: 2 }, { ts: T0 + 30 * MINUTE_MS, name: 'mem', value: 3 }]) }]);
    await metrics.ingest([{ deviceId: DEV_B, batch: batch(1, [{ ts: T0 + 31 * MINUTE_MS, name: 'mem', value: 4 }]) }]);
    await drain(() => metrics.compact(T0 + 15 * MINUTE_MS, 10_000));
    expect(await count(store(), 'raw_chunks')).toBe(1);
    expect(await metrics.namesSince(DEV_A, T0)).toEqual(['cpu', 'mem']);
    expect(await metrics.namesSince(DEV_A, T0 + 20 * MINUTE_MS)).toEqual(['mem']);
    const latest = (await metrics.latestSince(T0)).sort((a, b) => a.deviceId.localeCompare(b.deviceId) || a.name.localeCompare(b.name));
    expect(latest).toEqual([
      { deviceId: DEV_A, name: 'cpu', ts: T0 + 5_000, value: 2 },
      { deviceId: DEV_A, name: 'mem', ts: T0 + 30 * MINUTE_MS, value: 3 },
      { deviceId: DEV_B, name: 'mem', ts: T0 + 31 * MINUTE_MS, value: 4 },
    ]);
    expect((await metrics.latestSince(T0 + 30 * MINUTE_MS + 1)).map((l) => l.deviceId)).toEqual([DEV_B]);
  });

  it('two nodes rolling up and compacting at once lose nothing and store nothing twice', async () => {
    const [one, two] = [engine(), engine()];
    const entries = fleet();
    await ingestAll(one, entries);
    await Promise.all([drain(() => one.rollup(NOW + 2 * HOUR_MS, 10_000, 7)), drain(() => two.rollup(NOW + 2 * HOUR_MS, 10_000, 5))]);
    await Promise.all([drain(() => one.compact(NOW + 6 * 24 * HOUR_MS, 0, 1)), drain(() => two.compact(NOW + 6 * 24 * HOUR_MS, 0, 1))]);
    for (const deviceId of [DEV_A, DEV_B]) {
      const raw = expectedRaw(entries, deviceId, 'cpu.total', ...ALL);
      expect(await two.readRaw(deviceId, 'cpu.total', ...ALL)).toEqual(raw);
      expect(await one.readRollup('1m', deviceId, 'cpu.total', ...ALL)).toEqual(expectedRollups(raw, MINUTE_MS));
      expect(await two.readRollup('1h', deviceId, 'cpu.total', ...ALL)).toEqual(expectedRollups(raw, HOUR_MS));
    }
  });
});

describe('metric engine on a PostgreSQL that cannot be reached', () => {
  it('refuses a flush as an outage: the ingest queue keeps the batch unacked, retries, and rejects it at shutdown', async () => {
    const pool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/none', connectionTimeoutMillis: 1_000 });
    const health = new StoreHealth();
    const queue = new IngestQueue(new PostgresMetricEngine(pool), pino({ level: 'silent' }), { flushIntervalMs: 1, retryMinMs: 5, retryMaxMs: 10, health });
    let settled = false;
    const pending = queue.submit(DEV_A, batch(1, [{ ts: T0, name: 'cpu', value: 1 }])).finally(() => (settled = true));
    pending.catch(() => undefined);
    while (health.healthy) await new Promise((r) => setTimeout(r, 5));
    expect(health.problem).toMatch(/ECONNREFUSED/);
    await new Promise((r) => setTimeout(r, 30));
    expect(settled).toBe(false);
    expect(queue.stats.batches).toBe(0);
    await queue.close();
    await expect(pending).rejects.toSatisfy((err) => err instanceof TetherError && err.code === 'STORE_UNAVAILABLE');
    await pool.end();
  });
});
