/**
 * Ingest on PostgreSQL: the `ingest` scenario (10,000 simulated devices at 5 s, 30 samples a
 * batch, through the backend's IngestQueue) on the PostgreSQL metric engine, in a fresh database
 * it creates on the server and drops afterwards (TETHER_BENCH_DATABASE_URL, default
 * postgres://postgres@127.0.0.1:5432/postgres: a user who may create databases). Reports the event
 * loop's p99 delay and the process CPU while sustaining 2,000 batches/s, then the maximum sample
 * rate, and for comparison plain multi-row inserts of the same rows in the same run into a
 * row-per-sample table indexed by (device, name, time) that holds the same rows as the raw head
 * when the burst starts, on as many connections as the queue writes on.
 */
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import pg from 'pg';
import { pino } from 'pino';
import type { TelemetryBatch } from '../protocol/index.js';
import { PostgresMetricEngine } from '../backend/store/postgres/metric-engine.js';
import { openPostgres } from '../backend/store/postgres/pool.js';
import { IngestQueue } from '../backend/telemetry/ingest-queue.js';
import { DEVICES, METRICS, PERIOD_MS, SECONDS, deviceId, makeBatch } from './ingest.js';

const SERVER_URL = process.env.TETHER_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** Rows per statement of the plain baseline (4 parameters a row, well under PostgreSQL's 65,535). */
const ROWS_PER_INSERT = 1_000;
/** Batches per transaction of the plain baseline, as in the SQLite one. */
const BATCHES_PER_TX = 500;

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: SERVER_URL, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export async function ingestPostgres(): Promise<Record<string, number>> {
  const name = `tether_bench_${randomBytes(5).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  try {
    const postgres = await openPostgres({ url: url.toString() });
    const engine = new PostgresMetricEngine(postgres.pool);
    const queue = new IngestQueue(engine, pino({ level: 'silent' }), { maxConcurrentFlushes: engine.concurrentFlushes });
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

    // The baseline's starting point: the same rows as the raw head holds now (not timed).
    await postgres.pool.query(`CREATE TABLE bench_samples(device_id text NOT NULL, name text NOT NULL, ts bigint NOT NULL, value double precision NOT NULL);
      INSERT INTO bench_samples SELECT s.device_id, s.name, h.ts, h.value FROM raw_head h JOIN series s ON s.id = h.series_id;
      CREATE INDEX bench_samples_key ON bench_samples(device_id, name, ts);
      CHECKPOINT`);

    // 2. As fast as it goes: submit a burst and time until every batch is acked.
    const burst = Number(process.env.TETHER_BENCH_BURST ?? 40_000);
    const rows: Array<[string, TelemetryBatch]> = [];
    for (let k = 0; k < burst; k++) {
      const d = next++ % DEVICES;
      rows.push([deviceId(d), makeBatch(nextSeq(d), Date.now())]);
    }
    const b0 = performance.now();
    await Promise.all(rows.map(([id, batch]) => queue.submit(id, batch)));
    const maxSamplesPerSec = (burst * METRICS) / ((performance.now() - b0) / 1000);
    await queue.close();
    await postgres.pool.query('CHECKPOINT');

    // 3. The same rows with plain multi-row INSERT ... VALUES, 500 batches per transaction, on as many connections.
    const groups: Array<Array<[string, TelemetryBatch]>> = [];
    for (let k = 0; k < rows.length; k += BATCHES_PER_TX) groups.push(rows.slice(k, k + BATCHES_PER_TX));
    const statement = (n: number) => `INSERT INTO bench_samples(device_id, name, ts, value) VALUES ${Array.from({ length: n }, (_, i) => `($${4 * i + 1},$${4 * i + 2},$${4 * i + 3},$${4 * i + 4})`).join(',')}`;
    const writer = async () => {
      const client = await postgres.pool.connect();
      try {
        for (let group = groups.shift(); group; group = groups.shift()) {
          const values = group.flatMap(([id, batch]) => batch.metrics.flatMap((m) => [id, m.name, m.ts, m.value]));
          await client.query('BEGIN');
          for (let i = 0; i < values.length; i += 4 * ROWS_PER_INSERT) {
            const part = values.slice(i, i + 4 * ROWS_PER_INSERT);
            await client.query(statement(part.length / 4), part);
          }
          await client.query('COMMIT');
        }
      } finally {
        client.release();
      }
    };
    const r0 = performance.now();
    await Promise.all(Array.from({ length: engine.concurrentFlushes }, writer));
    const rawPostgresRowsPerSec = (burst * METRICS) / ((performance.now() - r0) / 1000);
    await postgres.close();

    return {
      devices: DEVICES,
      batchesPerSec: sent / elapsed,
      eventLoopP99Ms,
      cpuPercent,
      maxSamplesPerSec,
      rawPostgresRowsPerSec,
      ratioToRaw: maxSamplesPerSec / rawPostgresRowsPerSec,
    };
  } finally {
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}
