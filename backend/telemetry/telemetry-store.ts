import type { LogLine, MetricSample, TelemetryBatch } from '../../protocol/index.js';
import type { Db } from '../store/db.js';

/** One batch as it reached the gateway, already authenticated and validated. */
export interface IncomingBatch {
  deviceId: string;
  batch: TelemetryBatch;
}

/** What a committed write added, for live subscribers and the latest-value cache. */
export interface StoredBatch {
  deviceId: string;
  metrics: MetricSample[];
  logs: Array<LogLine & { id: number }>;
}

const MINUTE = 60_000;
/** Samples per multi-row INSERT: one statement (and one native call) per 32 rows instead of per row. */
const ROWS_PER_INSERT = 32;
const SAMPLE_VALUES = '(?,?,?,?)';

/**
 * Durable store of telemetry batches in the metrics database. Idempotent per (device, seq):
 * an agent that did not see our ack sends the batch again and nothing is stored twice.
 * Every write also marks the minute buckets it touched as dirty, so the rollup job
 * recomputes them — late samples included — from the raw rows.
 */
export class TelemetryStore {
  private readonly insertBatch;
  private readonly insertSample;
  private readonly insertSamples;
  private readonly insertLog;
  private readonly markDirty;
  private readonly storeTx;

  constructor(private readonly db: Db, private readonly now: () => number = Date.now) {
    this.insertBatch = db.prepare('INSERT OR IGNORE INTO telemetry_batches(device_id, seq, received_at) VALUES (?,?,?)');
    this.insertSample = db.prepare(`INSERT INTO samples(device_id, name, ts, value) VALUES ${SAMPLE_VALUES}`);
    this.insertSamples = db.prepare(`INSERT INTO samples(device_id, name, ts, value) VALUES ${Array<string>(ROWS_PER_INSERT).fill(SAMPLE_VALUES).join(',')}`);
    this.insertLog = db.prepare('INSERT INTO logs(device_id, ts, level, source, message) VALUES (?,?,?,?,?)');
    this.markDirty = db.prepare("INSERT OR IGNORE INTO rollup_dirty(tier, device_id, bucket) VALUES ('1m', ?, ?)");
    this.storeTx = db.transaction((entries: readonly IncomingBatch[]): Array<StoredBatch | null> => {
      const receivedAt = this.now();
      const fresh: Array<StoredBatch | null> = entries.map(({ deviceId, batch }) =>
        this.insertBatch.run(deviceId, batch.seq, receivedAt).changes === 0 ? null : { deviceId, metrics: batch.metrics, logs: [] },
      );
      const rows: Array<{ deviceId: string; sample: MetricSample }> = [];
      for (const stored of fresh) {
        if (!stored) continue;
        const buckets = new Set<number>();
        for (const sample of stored.metrics) {
          rows.push({ deviceId: stored.deviceId, sample });
          buckets.add(Math.floor(sample.ts / MINUTE) * MINUTE);
        }
        // A device appears once per flush in practice; a repeat costs one ignored insert.
        for (const bucket of buckets) this.markDirty.run(stored.deviceId, bucket);
      }
      // Rows go in in time order across the whole flush: the ts index then grows at its end.
      rows.sort((a, b) => a.sample.ts - b.sample.ts);
      const params: Array<string | number> = [];
      for (const { deviceId, sample } of rows) {
        params.push(deviceId, sample.name, sample.ts, sample.value);
        if (params.length === ROWS_PER_INSERT * 4) {
          this.insertSamples.run(params);
          params.length = 0;
        }
      }
      for (let i = 0; i < params.length; i += 4) this.insertSample.run(params.slice(i, i + 4));
      for (let i = 0; i < entries.length; i++) {
        const stored = fresh[i];
        const entry = entries[i];
        if (!stored || !entry) continue;
        for (const line of entry.batch.logs) {
          const id = Number(this.insertLog.run(stored.deviceId, line.ts, line.level, line.source, line.message).lastInsertRowid);
          stored.logs.push({ ...line, id });
        }
      }
      return fresh;
    });
  }

  /**
   * Stores batches in one transaction; each result is what was added, or null when that
   * batch was already stored (a resend).
   */
  storeAll(entries: readonly IncomingBatch[]): Array<StoredBatch | null> {
    return this.storeTx(entries);
  }

  /** Stores one batch; false when it was already stored. */
  store(deviceId: string, batch: TelemetryBatch): boolean {
    return this.storeTx([{ deviceId, batch }])[0] !== null;
  }

  /** The newest value of a metric, for the API and tests. */
  latest(deviceId: string, name: string): { ts: number; value: number } | undefined {
    return this.db.prepare('SELECT ts, value FROM samples WHERE device_id = ? AND name = ? ORDER BY ts DESC LIMIT 1').get(deviceId, name) as
      | { ts: number; value: number }
      | undefined;
  }
}
