/**
 * Query: 24 h of one device's metrics from a database holding 30 days of 1,000 devices, through
 * the real query path (MetricsQueryService). The database holds what the retention policy keeps
 * after 30 days: raw samples for the last 48 h, minute rollups for 30 days, hour rollups for the
 * whole span, for every device. It is built in bulk (one INSERT … SELECT over a recursive CTE
 * per device and tier, many devices per transaction, rows in primary-key order), since a per-row
 * fill of ~300 M rows takes hours. The 24 h query reads the minute tier (step 60 s), as the
 * console's 24 h chart does. Knobs: TETHER_BENCH_QUERY_DEVICES, _DAYS, _METRICS, _RAW_STEP_S
 * (raw sampling period; 0 leaves the raw tier empty).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../backend/store/db.js';
import { METRICS_MIGRATIONS } from '../backend/store/migrations.js';
import { MetricsQueryService } from '../backend/metrics/metrics-query.js';
import { DEFAULT_RETENTION } from '../backend/metrics/retention.js';
import { percentile } from './fleet.js';

const DEVICES = Number(process.env.TETHER_BENCH_QUERY_DEVICES ?? 1_000);
const DAYS = Number(process.env.TETHER_BENCH_QUERY_DAYS ?? 30);
const METRICS = Number(process.env.TETHER_BENCH_QUERY_METRICS ?? 4);
const RAW_STEP_MS = Number(process.env.TETHER_BENCH_QUERY_RAW_STEP_S ?? 5) * 1000;
const DEVICES_PER_TRANSACTION = 10;
const QUERIES = 40;
const MIN = 60_000;
const HOUR = 60 * MIN;

const id = (d: number) => `dev_${d.toString(36).padStart(24, '0')}`;

export async function query(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'tether-bench-query-'));
  try {
    const file = join(dir, 'metrics.db');
    const db = openDatabase(file, METRICS_MIGRATIONS);
    const now = Math.floor(Date.now() / HOUR) * HOUR;
    const start = now - DAYS * 24 * HOUR;
    const rawStart = Math.max(start, now - DEFAULT_RETENTION.rawMs);
    const names = Array.from({ length: METRICS }, (_, i) => `metric.${i}`);
    // Names in a CTE, crossed with the buckets: rows go in (device, name, bucket) order, the
    // primary key's, so every insert appends to the B-tree instead of splitting pages at random.
    const namesCte = `names(name) AS (VALUES ${names.map(() => '(?)').join(', ')})`;
    const tier = (table: string, count: number) =>
      db.prepare(`INSERT INTO ${table}(device_id, name, bucket, count, sum, min, max)
        WITH RECURSIVE ${namesCte}, t(b) AS (SELECT @from UNION ALL SELECT b + @step FROM t WHERE b + @step < @to)
        SELECT @device, name, b, ${count}, v * ${count}, v * 0.8, v * 1.2
        FROM (SELECT name, b, (abs(random()) % 10000) / 100.0 AS v FROM names, t)`);
    const fill1m = tier('rollup_1m', 12);
    const fill1h = tier('rollup_1h', 720);
    const fillRaw = db.prepare(`INSERT INTO samples(device_id, name, ts, value)
      WITH RECURSIVE ${namesCte}, t(b) AS (SELECT @from UNION ALL SELECT b + @step FROM t WHERE b + @step < @to)
      SELECT @device, name, b, (abs(random()) % 10000) / 100.0 FROM names, t`);
    const fill = db.transaction((first: number, last: number) => {
      for (let d = first; d < last; d++) {
        const device = id(d);
        fill1m.run(...names, { device, from: start, to: now, step: MIN });
        fill1h.run(...names, { device, from: start, to: now, step: HOUR });
        if (RAW_STEP_MS > 0) fillRaw.run(...names, { device, from: rawStart, to: now, step: RAW_STEP_MS });
      }
    });
    // A bulk load, not the backend's write path: no journal, and the secondary indexes (ordered by
    // time, so device-by-device inserts would land at random places in them) built once at the end.
    const secondary = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ('samples', 'rollup_1m', 'rollup_1h') AND name <> 'samples_device_name_ts'").all() as Array<{ name: string; sql: string }>;
    for (const index of secondary) db.exec(`DROP INDEX ${index.name}`);
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -262144');
    const b0 = performance.now();
    for (let d = 0; d < DEVICES; d += DEVICES_PER_TRANSACTION) {
      fill(d, Math.min(DEVICES, d + DEVICES_PER_TRANSACTION));
      const done = Math.min(DEVICES, d + DEVICES_PER_TRANSACTION);
      if (done % 50 === 0 || done === DEVICES) {
        const s = (performance.now() - b0) / 1000;
        process.stderr.write(`  filled ${done}/${DEVICES} devices in ${s.toFixed(0)} s (eta ${(((DEVICES - done) * s) / done).toFixed(0)} s)\n`);
      }
    }
    for (const index of secondary) {
      process.stderr.write(`  building ${index.name}\n`);
      db.exec(index.sql);
    }
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    const buildSeconds = (performance.now() - b0) / 1000;
    const count = (table: string) => db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
    const rows = { minuteRows: count('rollup_1m'), hourRows: count('rollup_1h'), rawRows: count('samples') };
    db.pragma('wal_checkpoint(TRUNCATE)');

    const service = new MetricsQueryService(db, DEFAULT_RETENTION, () => now);
    const runs: number[] = [];
    for (let k = 0; k < QUERIES; k++) {
      const device = id(Math.floor(Math.random() * DEVICES));
      // Several devices and metric sets: one metric, or all of them as the device page asks.
      const wanted = k % 2 === 0 ? names : [names[k % names.length] as string];
      const t = performance.now();
      const result = service.query(device, { names: wanted, from: now - 24 * HOUR, to: now, step: MIN });
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
      ...rows,
      dbMB: Math.round(statSync(file).size / 1024 / 1024),
      buildSeconds: Math.round(buildSeconds),
      rowsPerSecond: Math.round((rows.minuteRows + rows.hourRows + rows.rawRows) / buildSeconds),
      day1DeviceMs: round(percentile(runs, 50)),
      day1DeviceP99Ms: round(percentile(runs, 99)),
      day1DeviceMaxMs: round(runs.at(-1) ?? 0),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const round = (n: number) => Math.round(n * 100) / 100;
