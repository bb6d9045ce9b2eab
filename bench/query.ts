/**
 * Query: 24 h of one device's metrics from a database holding 30 days of 1,000 devices, through
 * the real query path (MetricsQueryService on the SQLite metric engine). The database holds what the
 * retention policy keeps after 30 days: raw samples for the last 48 h, minute rollups for 30 days,
 * hour rollups for the whole span, for every device; each tier as the running backend leaves it at
 * `now`: compressed chunks (through the real chunk encoder) for the windows compaction has closed,
 * head rows for the rest. Values are readings with two decimals, uniform in [0, 100), 5 s apart;
 * rollups of such readings keep two decimals (the rollup job sums them exactly). The 24 h query
 * reads the minute tier (step 60 s), as the console's 24 h chart does.
 * Knobs: TETHER_BENCH_QUERY_DEVICES, _DAYS, _METRICS, _RAW_STEP_S (raw sampling period; 0 leaves
 * the raw tier empty), _QUERIES.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../backend/store/sqlite/db.js';
import { METRICS_MIGRATIONS } from '../backend/store/migrations.js';
import { CHUNK_WINDOW_MS, COMPACT_GRACE_MS, encodeRollups, type RollupPoint, type StoredTier } from '../backend/metrics/chunks.js';
import { SqliteMetricEngine } from '../backend/store/sqlite/metric-engine.js';
import { MetricStore } from '../backend/store/sqlite/metric-store.js';
import { encodeChunk } from '../backend/metrics/chunk-codec.js';
import { MetricsQueryService } from '../backend/metrics/metrics-query.js';
import { DEFAULT_RETENTION } from '../backend/metrics/retention.js';
import { percentile } from './fleet.js';

const DEVICES = Number(process.env.TETHER_BENCH_QUERY_DEVICES ?? 1_000);
const DAYS = Number(process.env.TETHER_BENCH_QUERY_DAYS ?? 30);
const METRICS = Number(process.env.TETHER_BENCH_QUERY_METRICS ?? 4);
const RAW_STEP_MS = Number(process.env.TETHER_BENCH_QUERY_RAW_STEP_S ?? 5) * 1000;
const QUERIES = Number(process.env.TETHER_BENCH_QUERY_QUERIES ?? 1_000);
const MIN = 60_000;
const HOUR = 60 * MIN;

const id = (d: number) => `dev_${d.toString(36).padStart(24, '0')}`;
/** A reading with two decimals, uniform in [0, 100). */
const reading = () => Math.floor(Math.random() * 10_000) / 100;
const cents = (v: number) => Math.round(v * 100) / 100;

export async function query(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'tether-bench-query-'));
  try {
    const file = join(dir, 'metrics.db');
    const db = openDatabase(file, METRICS_MIGRATIONS);
    const store = new MetricStore(db);
    const now = Math.floor(Date.now() / HOUR) * HOUR;
    const start = now - DAYS * 24 * HOUR;
    const rawStart = RAW_STEP_MS > 0 ? Math.max(start, now - DEFAULT_RETENTION.rawMs) : now;
    const names = Array.from({ length: METRICS }, (_, i) => `metric.${i}`);
    // Where compaction would have got to at `now`: older windows are chunks, newer rows are head.
    const cutoff = (tier: StoredTier) => Math.floor((now - COMPACT_GRACE_MS[tier]) / CHUNK_WINDOW_MS[tier]) * CHUNK_WINDOW_MS[tier];
    const putChunk = (tier: StoredTier) =>
      db.prepare<[number, number, number, Buffer]>(`INSERT INTO ${{ raw: 'raw_chunks', '1m': 'rollup_1m_chunks', '1h': 'rollup_1h_chunks' }[tier]}(series_id, start, count, data) VALUES (?, ?, ?, ?)`);
    const chunkOf = { raw: putChunk('raw'), '1m': putChunk('1m'), '1h': putChunk('1h') };
    const blob = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let rawSamples = 0;
    let rollupPoints = 0;

    const series = Array.from({ length: DEVICES }, (_, d) => names.map((name) => store.seriesId(id(d), name))).flat();
    // Window by window, every series in each, as compaction writes them in a running backend (so the
    // chunk tables grow as they would there).
    const fillRaw = (window: number) => {
      const ts: number[] = [];
      for (let t = Math.max(window, rawStart); t < Math.min(window + CHUNK_WINDOW_MS.raw, now); t += RAW_STEP_MS) ts.push(t);
      for (const s of series) {
        const values = ts.map(reading);
        rawSamples += ts.length;
        if (window < cutoff('raw')) chunkOf.raw.run(s, window, ts.length, blob(encodeChunk(ts, [values])));
        else store.appendRaw(ts.map((t, i) => [s, t, values[i] as number]));
      }
    };
    const fillRollup = (tier: '1m' | '1h', bucketMs: number, count: number) => (window: number) => {
      const buckets: number[] = [];
      for (let t = Math.max(window, start); t < Math.min(window + CHUNK_WINDOW_MS[tier], now); t += bucketMs) buckets.push(t);
      for (const s of series) {
        const points: RollupPoint[] = buckets.map((bucket) => {
          const v = reading();
          return { bucket, count, sum: cents(v * count), min: cents(v * 0.8), max: cents(v * 1.2) };
        });
        rollupPoints += points.length;
        if (window < cutoff(tier)) chunkOf[tier].run(s, window, points.length, blob(encodeRollups(points)));
        else for (const p of points) store.putRollup(tier, s, p.bucket, p);
      }
    };
    const b0 = performance.now();
    const tiers: Array<[StoredTier, number, (window: number) => void]> = [
      ['1h', start, fillRollup('1h', HOUR, 720)],
      ['1m', start, fillRollup('1m', MIN, 12)],
      ['raw', rawStart, fillRaw],
    ];
    for (const [tier, from, fill] of tiers) {
      const width = CHUNK_WINDOW_MS[tier];
      const windows: number[] = [];
      for (let w = Math.floor(from / width) * width; w < now; w += width) windows.push(w);
      windows.forEach((w, i) => {
        db.transaction(fill)(w);
        if ((i + 1) % 50 === 0 || i === windows.length - 1) process.stderr.write(`  ${tier}: ${i + 1}/${windows.length} windows at ${((performance.now() - b0) / 1000).toFixed(0)} s\n`);
      });
    }
    db.pragma('wal_checkpoint(TRUNCATE)');
    const buildSeconds = (performance.now() - b0) / 1000;
    // Bytes on disk per table and index (SQLite's dbstat: whole pages, free space included).
    const pages = new Map((db.prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name').all() as Array<{ name: string; bytes: number }>).map((r) => [r.name, r.bytes]));
    const bytes = (...tables: string[]) => tables.reduce((n, t) => n + (pages.get(t) ?? 0), 0);
    const rawBytes = bytes('raw_chunks', 'raw_chunks_series', 'raw_head', 'raw_head_series_ts');
    if (process.env.TETHER_BENCH_QUERY_PAGES) console.table(db.prepare('SELECT name, sum(pgsize) AS bytes, sum(payload) AS payload, sum(unused) AS unused, count(*) AS pages FROM dbstat GROUP BY name ORDER BY bytes DESC').all());

    const service = new MetricsQueryService(new SqliteMetricEngine(db), DEFAULT_RETENTION, () => now);
    // A running backend has answered queries before: compile the path first (not timed).
    for (let k = 0; k < 20; k++) await service.query(id(k % DEVICES), { names, from: now - 24 * HOUR, to: now, step: MIN });
    const runs: number[] = [];
    const devicesQueried = new Set<number>();
    for (let k = 0; k < QUERIES; k++) {
      const d = Math.floor(Math.random() * DEVICES);
      devicesQueried.add(d);
      // Several devices and metric sets: one metric, or all of them as the device page asks.
      const wanted = k % 2 === 0 ? names : [names[k % names.length] as string];
      const t = performance.now();
      const result = await service.query(id(d), { names: wanted, from: now - 24 * HOUR, to: now, step: MIN });
      runs.push(performance.now() - t);
      if (result.tier !== '1m' || result.series[0]?.points.length !== 24 * 60) {
        throw new Error(`expected 1440 points from the minute tier, got ${result.series[0]?.points.length} from ${result.tier}`);
      }
    }
    runs.sort((a, b) => a - b);
    db.close();
    return {
      devices: DEVICES,
      days: DAYS,
      metricsPerDevice: METRICS,
      rawSamples,
      rollupPoints,
      dbMB: Math.round(statSync(file).size / 1024 / 1024),
      rawMB: Math.round(rawBytes / 1024 / 1024),
      minuteMB: Math.round(bytes('rollup_1m_chunks', 'rollup_1m_head') / 1024 / 1024),
      rawBytesPerSample: round(rawBytes / Math.max(rawSamples, 1)),
      buildSeconds: Math.round(buildSeconds),
      queries: QUERIES,
      devicesQueried: devicesQueried.size,
      day1DeviceMs: round(percentile(runs, 50)),
      day1DeviceP99Ms: round(percentile(runs, 99)),
      day1DeviceMaxMs: round(runs.at(-1) ?? 0),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const round = (n: number) => Math.round(n * 100) / 100;
