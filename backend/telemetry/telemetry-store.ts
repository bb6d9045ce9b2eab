import type { TelemetryBatch } from '../../protocol/index.js';
import type { Db } from '../store/db.js';

/**
 * Durable store of telemetry batches in the metrics database. Idempotent per (device, seq):
 * an agent that did not see our ack sends the batch again and nothing is stored twice.
 */
export class TelemetryStore {
  private readonly insertBatch;
  private readonly insertSample;
  private readonly storeTx;

  constructor(private readonly db: Db, private readonly now: () => number = Date.now) {
    this.insertBatch = db.prepare('INSERT OR IGNORE INTO telemetry_batches(device_id, seq, received_at) VALUES (?,?,?)');
    this.insertSample = db.prepare('INSERT INTO samples(device_id, name, ts, value) VALUES (?,?,?,?)');
    this.storeTx = db.transaction((deviceId: string, batch: TelemetryBatch): boolean => {
      if (this.insertBatch.run(deviceId, batch.seq, this.now()).changes === 0) return false;
      for (const m of batch.metrics) this.insertSample.run(deviceId, m.name, m.ts, m.value);
      return true;
    });
  }

  /** Stores a batch in one transaction; false when it was already stored. */
  store(deviceId: string, batch: TelemetryBatch): boolean {
    return this.storeTx(deviceId, batch);
  }

  /** The newest value of a metric, for the API and tests. */
  latest(deviceId: string, name: string): { ts: number; value: number } | undefined {
    return this.db.prepare('SELECT ts, value FROM samples WHERE device_id = ? AND name = ? ORDER BY ts DESC LIMIT 1').get(deviceId, name) as
      | { ts: number; value: number }
      | undefined;
  }
}
