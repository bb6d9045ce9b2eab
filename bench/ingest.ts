/**
 * Ingest: 10,000 simulated devices at 5 s (2,000 batches/s, 30 samples each) through the
 * backend's IngestQueue and SQLite metric engine (the path after the gateway's parse and checks;
 * TLS and WebSocket framing are measured by the connect/fleet scenarios). Reports the event
 * loop's p99 delay and the process CPU while sustaining that rate, then the maximum sample rate,
 * and plain better-sqlite3 inserts of the same rows for comparison: into a copy of the metrics
 * database taken just before the burst, so both start from the same schema, indexes and rows.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pino } from 'pino';
import type { TelemetryBatch } from '../protocol/index.js';
import { openDatabase } from '../backend/store/sqlite/db.js';
import { METRICS_MIGRATIONS } from '../backend/store/migrations.js';
import { SqliteMetricEngine } from '../backend/store/sqlite/metric-engine.js';
import { IngestQueue } from '../backend/telemetry/ingest-queue.js';

export const DEVICES = Number(process.env.TETHER_BENCH_DEVICES ?? 10_000);
export const PERIOD_MS = 5_000;
export const SECONDS = Number(process.env.TETHER_BENCH_INGEST_S ?? 20);
export const METRICS = 30;

export function makeBatch(seq: number, ts: number): TelemetryBatch {
  return { type: 'batch', seq, metrics: Array.from({ length: METRICS }, (_, i) => ({ ts, name: `metric.${i}`, value: Math.random() * 100 })), logs: [] };
}
export const deviceId = (i: number) => `dev_${i.toString(36).padStart(24, '0')}`;

export async function ingest(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'tether-bench-ingest-'));
  try {
    const dbFile = join(dir, 'metrics.db');
    const db = openDatabase(dbFile, METRICS_MIGRATIONS);
    const queue = new IngestQueue(new SqliteMetricEngine(db), pino({ level: 'silent' }));
    const seqs = new Map<number, number>();
    const nextSeq = (d: number): number => {
      const seq = seqs.get(d) ?? 0;
      seqs.set(d, seq + 1);
      return seq;
    };

    // 1. Sustained 2,000 batches/s, delivered in 10 ms ticks as sockets would.
    const perTick = (DEVICES / PERIOD_MS) * 10;
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let sent = 0;
    let next = 0;
    const pending: Array<Promise<boolean>> = [];
    await new Promise<void>((done) => {
      const timer = setInterval(() => {
        const due = Math.floor(((performance.now() - t0) / 10) * perTick) - sent;
        for (let k = 0; k < due; k++) {
          const d = next++ % DEVICES;
          pending.push(queue.submit(deviceId(d), makeBatch(nextSeq(d), Date.now())));
          sent++;
        }
        if (performance.now() - t0 >= SECONDS * 1000) {
          clearInterval(timer);
          done();
        }
      }, 10);
    });
    await Promise.all(pending.splice(0));
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    delay.disable();
    const eventLoopP99Ms = delay.percentile(99) / 1e6;
    const cpuPercent = ((cpu.user + cpu.system) / 1e6 / elapsed) * 100;

    // 2. As fast as it goes: submit a burst and time until every batch is acked.
    const burst = Number(process.env.TETHER_BENCH_BURST ?? 40_000);
    const rows: Array<[string, TelemetryBatch]> = [];
    for (let k = 0; k < burst; k++) {
      const d = next++ % DEVICES;
      rows.push([deviceId(d), makeBatch(nextSeq(d), Date.now())]);
    }
    // The raw baseline's starting point: this database as the burst finds it, WAL folded in.
    db.pragma('wal_checkpoint(TRUNCATE)');
    const rawFile = join(dir, 'raw.db');
    copyFileSync(dbFile, rawFile);
    const b0 = performance.now();
    await Promise.all(rows.map(([id, batch]) => queue.submit(id, batch)));
    const maxSamplesPerSec = (burst * METRICS) / ((performance.now() - b0) / 1000);
    await queue.close();
    db.close();

    // 3. The same rows with plain better-sqlite3 into that copy: one prepared insert per sample into a plain
    // row-per-sample table indexed by (device, name, time) (Tether's store before chunks), 500 batches per transaction.
    const raw = openDatabase(rawFile, METRICS_MIGRATIONS);
    raw.exec('CREATE TABLE bench_samples(device_id TEXT NOT NULL, name TEXT NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL); CREATE INDEX bench_samples_key ON bench_samples(device_id, name, ts);');
    const insert = raw.prepare('INSERT INTO bench_samples(device_id, name, ts, value) VALUES (?,?,?,?)');
    const tx = raw.transaction((chunk: Array<[string, TelemetryBatch]>) => {
      for (const [id, batch] of chunk) for (const m of batch.metrics) insert.run(id, m.name, m.ts, m.value);
    });
    const r0 = performance.now();
    for (let k = 0; k < rows.length; k += 500) tx(rows.slice(k, k + 500));
    const rawSqliteRowsPerSec = (burst * METRICS) / ((performance.now() - r0) / 1000);
    raw.close();

    return {
      devices: DEVICES,
      batchesPerSec: sent / elapsed,
      eventLoopP99Ms,
      cpuPercent,
      maxSamplesPerSec,
      rawSqliteRowsPerSec,
      ratioToRaw: maxSamplesPerSec / rawSqliteRowsPerSec,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
