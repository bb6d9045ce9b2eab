/**
 * Query: 24 h of one device's metrics from a database holding 30 days of 1,000 devices, through
 * the real query path (MetricsQueryService). The database holds what the retention policy keeps
 * after 30 days: raw samples for the last 48 h, minute rollups for 30 days, hour rollups for the
 * whole span, for every device. It is built in bulk (one INSERT … SELECT per device and tier,
 * many devices per transaction, rows in primary-key order, secondary indexes sorted in at the
 * end), since a per-row fill of ~300 M rows takes hours. The 24 h query reads the minute tier
 * (step 60 s), as the console's 24 h chart does. Knobs: TETHER_BENCH_QUERY_DEVICES, _DAYS, _METRICS, _RAW_STEP_S
 * (raw sampling period; 0 leaves the raw tier empty).
 */
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
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
    // A bulk load, not the backend's write path: no journal, and the secondary indexes (ordered by
    // time, so device-by-device inserts would land at random places in them) built once at the end
    // by SQLite's sorter.
    const secondary = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ('samples', 'rollup_1m', 'rollup_1h') AND name <> 'samples_device_name_ts'").all() as Array<{ name: string; sql: string }>;
    for (const index of secondary) db.exec(`DROP INDEX ${index.name}`);
    // better-sqlite3 opens connections in defensive mode, which silently keeps WAL when asked
    // for journal_mode = OFF: every page would then be written twice (to the WAL, then back).
    db.unsafeMode(true);
    if (db.pragma('journal_mode = OFF', { simple: true }) !== 'off') throw new Error('the bulk load needs journal_mode = OFF');
    db.pragma('synchronous = OFF');
    // Appends touch few pages, and here a large page cache (or sorter memory, which follows it)
    // costs more in page faults than it saves: measured slower at 256 MB than at 16 MB.
    const cacheSize = db.pragma('cache_size', { simple: true }) as number;
    db.pragma('cache_size = -16384');
    // Rows come from a scan of two small TEMP tables (not part of the schema), metric names ×
    // bucket numbers: cheaper than a recursive CTE, and in (name, bucket) order, so each device's
    // rows append to the end of every B-tree keyed by (device, name, time).
    const perSeries = Math.max(DAYS * 24 * 60, Math.ceil(DEFAULT_RETENTION.rawMs / Math.max(RAW_STEP_MS, 1)));
    db.exec(`CREATE TEMP TABLE bench_names(name TEXT NOT NULL);
      CREATE TEMP TABLE bench_steps(i INTEGER PRIMARY KEY);
      INSERT INTO bench_steps WITH RECURSIVE t(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM t WHERE i + 1 < ${perSeries}) SELECT i FROM t;`);
    const addName = db.prepare('INSERT INTO bench_names(name) VALUES (?)');
    for (const name of names) addName.run(name);
    const series = (select: string) => `SELECT ${select} FROM (SELECT name, @from + i * @step AS t, (abs(random()) % 10000) / 100.0 AS v FROM bench_names, bench_steps WHERE i < @n)`;
    const tier = (table: string, count: number) =>
      db.prepare(`INSERT INTO ${table}(device_id, name, bucket, count, sum, min, max) ${series(`@device, name, t, ${count}, v * ${count}, v * 0.8, v * 1.2`)}`);
    const fill1m = tier('rollup_1m', 12);
    const fill1h = tier('rollup_1h', 720);
    const fillRaw = db.prepare(`INSERT INTO samples(device_id, name, ts, value) ${series('@device, name, t, v')}`);
    const rawCount = RAW_STEP_MS > 0 ? Math.ceil((now - rawStart) / RAW_STEP_MS) : 0;
    const fill = db.transaction((first: number, last: number) => {
      for (let d = first; d < last; d++) {
        const device = id(d);
        fill1m.run({ device, from: start, step: MIN, n: DAYS * 24 * 60 });
        fill1h.run({ device, from: start, step: HOUR, n: DAYS * 24 });
        if (rawCount > 0) fillRaw.run({ device, from: rawStart, step: RAW_STEP_MS, n: rawCount });
      }
    });
    const b0 = performance.now();
    for (let d = 0; d < DEVICES; d += DEVICES_PER_TRANSACTION) {
      fill(d, Math.min(DEVICES, d + DEVICES_PER_TRANSACTION));
      const done = Math.min(DEVICES, d + DEVICES_PER_TRANSACTION);
      if (done % 50 === 0 || done === DEVICES) {
        const s = (performance.now() - b0) / 1000;
        process.stderr.write(`  filled ${done}/${DEVICES} devices in ${s.toFixed(0)} s (eta ${(((DEVICES - done) * s) / done).toFixed(0)} s)\n`);
      }
    }
    db.exec('DROP TABLE bench_names; DROP TABLE bench_steps;');
    for (const index of secondary) {
      process.stderr.write(`  building ${index.name} at ${((performance.now() - b0) / 1000).toFixed(0)} s\n`);
      db.exec(index.sql);
    }
    db.pragma(`cache_size = ${cacheSize}`);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.unsafeMode(false);
    // Without a journal nothing was synced: tens of GB may still be queued for the disk, and the
    // queries below would otherwise wait behind the build's own writeback.
    const fd = openSync(file, 'r+');
    fsyncSync(fd);
    closeSync(fd);
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
