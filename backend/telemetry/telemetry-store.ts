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

/**
 * Durable store of telemetry batches in the metrics database. Idempotent per (device, seq):
 * an agent that did not see our ack sends the batch again and nothing is stored twice.
 * Every write also marks the minute buckets it touched as dirty, so the rollup job
 * recomputes them — late samples included — from the raw rows.
 */
export class TelemetryStore {
  private readonly insertBatch;
  private readonly insertSample;
  private readonly insertLog;
  private readonly markDirty;
  private readonly storeTx;

  constructor(private readonly db: Db, private readonly now: () => number = Date.now) {
    this.insertBatch = db.prepare('INSERT OR IGNORE INTO telemetry_batches(device_id, seq, received_at) VALUES (?,?,?)');
    this.insertSample = db.prepare('INSERT INTO samples(device_id, name, ts, value) VALUES (?,?,?,?)');
    this.insertLog = db.prepare('INSERT INTO logs(device_id, ts, level, source, message) VALUES (?,?,?,?,?)');
    this.markDirty = db.prepare("INSERT OR IGNORE INTO rollup_dirty(tier, device_id, bucket) VALUES ('1m', ?, ?)");
    this.storeTx = db.transaction((entries: readonly IncomingBatch[]): Array<StoredBatch | null> => {
      const receivedAt = this.now();
      const fresh: Array<StoredBatch | null> = entries.map(({ deviceId, batch }) =>
        this.insertBatch.run(deviceId, batch.seq, receivedAt).changes === 0 ? null : { deviceId, metrics: batch.metrics, logs: [] },
      );
      // Rows go in in time order across the whole flush: the ts index then grows at its end.
      const rows: Array<{ deviceId: string; sample: MetricSample }> = [];
      const dirty = new Set<string>();
      for (const stored of fresh) {
        if (!stored) continue;
        for (const sample of stored.metrics) {
          rows.push({ deviceId: stored.deviceId, sample });
          dirty.add(`${stored.deviceId}\n${Math.floor(sample.ts / MINUTE) * MINUTE}`);
        }
      }
      rows.sort((a, b) => a.sample.ts - b.sample.ts);
      for (const { deviceId, sample } of rows) this.insertSample.run(deviceId, sample.name, sample.ts, sample.value);
      for (const key of dirty) {
        const [deviceId, bucket] = key.split('\n');
        this.markDirty.run(deviceId, Number(bucket));
      }
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
