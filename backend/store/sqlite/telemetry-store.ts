import type { TelemetryBatch } from '../../../protocol/index.js';
import type { IncomingBatch, StoredBatch } from '../../metrics/metric-engine.js';
import type { MetricStore, RawRow } from './metric-store.js';

const MINUTE = 60_000;

/**
 * Durable store of telemetry batches in the metrics database. Idempotent per (device, seq):
 * an agent that did not see our ack sends the batch again and nothing is stored twice.
 * Samples go to the raw head of the metric store (compacted into chunks later); every write
 * also marks the minute buckets it touched as dirty, so the rollup job recomputes them —
 * late samples included.
 */
export class TelemetryStore {
  private readonly insertBatch;
  private readonly insertLog;
  private readonly markDirty;
  private readonly storeTx;

  constructor(private readonly metrics: MetricStore, private readonly now: () => number = Date.now) {
    const db = metrics.db;
    this.insertBatch = db.prepare('INSERT OR IGNORE INTO telemetry_batches(device_id, seq, received_at) VALUES (?,?,?)');
    this.insertLog = db.prepare('INSERT INTO logs(device_id, ts, level, source, message) VALUES (?,?,?,?,?)');
    this.markDirty = db.prepare("INSERT OR IGNORE INTO rollup_dirty(tier, device_id, bucket) VALUES ('1m', ?, ?)");
    this.storeTx = db.transaction((entries: readonly IncomingBatch[]): Array<StoredBatch | null> => {
      const receivedAt = this.now();
      const fresh: Array<StoredBatch | null> = entries.map(({ deviceId, batch }) =>
        this.insertBatch.run(deviceId, batch.seq, receivedAt).changes === 0 ? null : { deviceId, metrics: batch.metrics, logs: [] },
      );
      const rows: RawRow[] = [];
      for (const stored of fresh) {
        if (!stored) continue;
        const buckets = new Set<number>();
        for (const sample of stored.metrics) {
          rows.push([metrics.seriesId(stored.deviceId, sample.name), sample.ts, sample.value]);
          buckets.add(Math.floor(sample.ts / MINUTE) * MINUTE);
        }
        // A device appears once per flush in practice; a repeat costs one ignored insert.
        for (const bucket of buckets) this.markDirty.run(stored.deviceId, bucket);
      }
      // Rows go in in time order across the whole flush: the head's rows then mostly append.
      rows.sort((a, b) => a[1] - b[1]);
      metrics.appendRaw(rows);
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
    try {
      return this.storeTx(entries);
    } catch (err) {
      // Series created by the rolled-back transaction are gone: their cached ids must go too.
      this.metrics.forgetSeriesIds();
      throw err;
    }
  }

  /** Stores one batch; false when it was already stored. */
  store(deviceId: string, batch: TelemetryBatch): boolean {
    return this.storeAll([{ deviceId, batch }])[0] !== null;
  }
}
