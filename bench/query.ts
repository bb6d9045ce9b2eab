/**
 * Query: 24 h of one device's metrics from a database holding 30 days of 1,000 devices.
 * The database holds the tiers a real one would after 30 days: minute rollups for 30 days and
 * hour rollups, for every device. The 24 h query reads the minute tier (step 60 s), as the
 * console's 24 h chart does. Size knobs: TETHER_BENCH_QUERY_DEVICES, _DAYS, _METRICS.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../backend/store/db.js';
import { METRICS_MIGRATIONS } from '../backend/store/migrations.js';
import { MetricsQueryService } from '../backend/metrics/metrics-query.js';
import { DEFAULT_RETENTION } from '../backend/metrics/retention.js';

const DEVICES = Number(process.env.TETHER_BENCH_QUERY_DEVICES ?? 1_000);
const DAYS = Number(process.env.TETHER_BENCH_QUERY_DAYS ?? 30);
const METRICS = Number(process.env.TETHER_BENCH_QUERY_METRICS ?? 4);
const MIN = 60_000;

export async function query(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'tether-bench-query-'));
  try {
    const db = openDatabase(join(dir, 'metrics.db'), METRICS_MIGRATIONS);
    const now = Math.floor(Date.now() / MIN) * MIN;
    const start = now - DAYS * 24 * 60 * MIN;
    const names = Array.from({ length: METRICS }, (_, i) => `metric.${i}`);
    const id = (d: number) => `dev_${d.toString(36).padStart(24, '0')}`;
    const insert1m = db.prepare('INSERT INTO rollup_1m(device_id, name, bucket, count, sum, min, max) VALUES (?,?,?,12,?,?,?)');
    const insert1h = db.prepare('INSERT INTO rollup_1h(device_id, name, bucket, count, sum, min, max) VALUES (?,?,?,720,?,?,?)');
    const b0 = performance.now();
    const fill = db.transaction((d: number) => {
      for (const name of names) {
        for (let t = start; t < now; t += MIN) {
          const v = Math.random() * 100;
          insert1m.run(id(d), name, t, v * 12, v, v);
        }
        for (let t = start; t < now; t += 60 * MIN) insert1h.run(id(d), name, t, 50 * 720, 0, 100);
      }
    });
    for (let d = 0; d < DEVICES; d++) fill(d);
    const buildSeconds = (performance.now() - b0) / 1000;
    const rows = db.prepare('SELECT count(*) FROM rollup_1m').pluck().get() as number;

    const service = new MetricsQueryService(db, DEFAULT_RETENTION, () => now);
    const runs: number[] = [];
    for (let k = 0; k < 20; k++) {
      const device = id(Math.floor(Math.random() * DEVICES));
      const t = performance.now();
      const result = service.query(device, { names, from: now - 24 * 60 * MIN, to: now, step: MIN });
      runs.push(performance.now() - t);
      if (result.series[0]?.points.length !== 24 * 60) throw new Error(`expected 1440 points, got ${result.series[0]?.points.length}`);
    }
    runs.sort((a, b) => a - b);
    db.close();
    return { devices: DEVICES, days: DAYS, metricsPerDevice: METRICS, minuteRows: rows, buildSeconds, day1DeviceMs: runs[Math.floor(runs.length / 2)] ?? 0, day1DeviceMaxMs: runs.at(-1) ?? 0 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
