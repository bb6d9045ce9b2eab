import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { TetherError, type TelemetryBatch } from '../../protocol/index.js';
import { METRICS_MIGRATIONS } from '../store/migrations.js';
import { openDatabase } from '../store/sqlite/db.js';
import { SqliteMetricEngine } from '../store/sqlite/metric-engine.js';
import { StoreHealth } from '../store/store-health.js';
import type { IncomingBatch, MetricEngine, StoredBatch } from '../metrics/metric-engine.js';
import { IngestQueue } from './ingest-queue.js';

const DEV = 'dev_aaaaaaaaaaaaaaaaaaaa';

function setup(options: ConstructorParameters<typeof IngestQueue>[2]) {
  const db = openDatabase(':memory:', METRICS_MIGRATIONS);
  return { db, queue: new IngestQueue(new SqliteMetricEngine(db), pino({ level: 'silent' }), options) };
}

const batch = (seq: number): TelemetryBatch => ({ type: 'batch', seq, metrics: [{ ts: 1_000 + seq, name: 'cpu.total', value: seq }], logs: [] });

describe('IngestQueue', () => {
  it('writes a backlog in transactions of at most maxBatchesPerFlush batches until it is empty', async () => {
    const { db, queue } = setup({ flushIntervalMs: 5, maxBatchesPerFlush: 10 });
    const submitted = Array.from({ length: 95 }, (_, seq) => queue.submit(DEV, batch(seq)));
    expect(await Promise.all(submitted)).toEqual(Array(95).fill(true));
    expect(queue.stats.flushes).toBe(10);
    expect(db.prepare('SELECT count(*) AS n FROM raw_head').get()).toEqual({ n: 95 });
    await queue.close();
  });

  it('acks a resend as not stored', async () => {
    const { queue } = setup({ flushIntervalMs: 1 });
    expect(await queue.submit(DEV, batch(1))).toBe(true);
    expect(await queue.submit(DEV, batch(1))).toBe(false);
    await queue.close();
  });

  it('close() writes what is queued and then refuses with GOING_AWAY', async () => {
    const { db, queue } = setup({ flushIntervalMs: 60_000, maxBatchesPerFlush: 2 });
    const pending = [0, 1, 2, 3, 4].map((seq) => queue.submit(DEV, batch(seq)));
    queue.close();
    expect(await Promise.all(pending)).toEqual([true, true, true, true, true]);
    expect(db.prepare('SELECT count(*) AS n FROM raw_head').get()).toEqual({ n: 5 });
    await expect(queue.submit(DEV, batch(5))).rejects.toSatisfy((err) => err instanceof TetherError && err.code === 'GOING_AWAY');
  });

  it('refuses beyond maxPending with RATE_LIMITED', async () => {
    const { queue } = setup({ flushIntervalMs: 1, maxPending: 2 });
    const accepted = [queue.submit(DEV, batch(0)), queue.submit(DEV, batch(1))];
    await expect(queue.submit(DEV, batch(2))).rejects.toSatisfy((err) => err instanceof TetherError && err.code === 'RATE_LIMITED');
    await Promise.all(accepted);
    await queue.close();
  });

  it('keeps batches the database refuses (disk full), reports the outage, retries with backoff and stores each once when space returns', async () => {
    const health = new StoreHealth();
    const { db, queue } = setup({ flushIntervalMs: 1, retryMinMs: 5, retryMaxMs: 20, health });
    const pages = db.pragma('page_count', { simple: true }) as number;
    // No page beyond those in use: the next write that needs one fails with SQLITE_FULL.
    db.pragma(`max_page_count = ${pages}`);
    const big = (seq: number): TelemetryBatch => ({ type: 'batch', seq, metrics: Array.from({ length: 500 }, (_, i) => ({ ts: 1_000 + i, name: `m.${seq}.${i}`, value: i })), logs: [] });
    let settled = 0;
    const submitted = [0, 1, 2].map((seq) => queue.submit(DEV, big(seq)).finally(() => settled++));
    await waitUntil(() => !health.healthy);
    expect(health.problem).toMatch(/SQLITE_FULL/);
    await new Promise((r) => setTimeout(r, 60));
    expect(settled).toBe(0);
    expect(queue.queued).toBe(3);
    db.pragma('max_page_count = 1073741823');
    expect(await Promise.all(submitted)).toEqual([true, true, true]);
    expect(health.healthy).toBe(true);
    expect(db.prepare('SELECT count(*) AS n FROM raw_head').get()).toEqual({ n: 1_500 });
    await queue.close();
  });

  it('rejects, not acks, what the database refuses at shutdown', async () => {
    const { db, queue } = setup({ flushIntervalMs: 60_000 });
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
    const pending = queue.submit(DEV, { type: 'batch', seq: 1, metrics: Array.from({ length: 2_000 }, (_, i) => ({ ts: i, name: `m${i}`, value: i })), logs: [] });
    queue.close();
    await expect(pending).rejects.toSatisfy((err) => err instanceof TetherError && err.code === 'STORE_UNAVAILABLE');
  });
});

describe('IngestQueue with flushes in flight', () => {
  it('writes at most maxConcurrentFlushes at once, acks each batch after its own flush, and close() waits for all of them', async () => {
    let inFlight = 0;
    let most = 0;
    const release: Array<() => void> = [];
    const engine: Pick<MetricEngine, 'ingest'> = {
      ingest: async (entries: readonly IncomingBatch[]) => {
        most = Math.max(most, ++inFlight);
        await new Promise<void>((r) => release.push(r));
        inFlight--;
        return entries.map((e): StoredBatch => ({ deviceId: e.deviceId, metrics: e.batch.metrics, logs: [] }));
      },
    };
    const queue = new IngestQueue(engine, pino({ level: 'silent' }), { flushIntervalMs: 1, maxBatchesPerFlush: 2, maxConcurrentFlushes: 3 });
    let acked = 0;
    const submitted = Array.from({ length: 20 }, (_, seq) => queue.submit(DEV, batch(seq)).then((stored) => (acked++, stored)));
    await waitUntil(() => release.length === 3);
    await new Promise((r) => setTimeout(r, 20));
    expect(release.length).toBe(3);
    expect(acked).toBe(0);
    const closed = queue.close();
    while (acked < 20) {
      release.shift()?.();
      await new Promise((r) => setTimeout(r, 1));
    }
    await closed;
    expect(await Promise.all(submitted)).toEqual(Array(20).fill(true));
    expect(most).toBe(3);
    expect(queue.stats.flushes).toBe(10);
  });
});

async function waitUntil(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 2));
  }
}
