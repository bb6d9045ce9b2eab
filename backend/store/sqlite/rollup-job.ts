import { aggregate, mergeAggregates } from '../../metrics/aggregate.js';
import { HOUR_MS, MINUTE_MS } from '../../metrics/chunks.js';
import type { MetricStore } from './metric-store.js';

interface DirtyRow {
  device_id: string;
  bucket: number;
}

/**
 * Keeps the 1-minute and 1-hour rollups equal to aggregates of the samples below them.
 * Ingest marks each (device, minute) it writes as dirty; this job recomputes closed dirty
 * minutes from the raw samples (head and chunks), which marks their hours dirty, and
 * recomputes closed dirty hours from the minute buckets. Recomputing (rather than adding)
 * makes it idempotent and correct for late samples from an agent that was offline.
 */
export class RollupJob {
  private readonly selectDirty;
  private readonly deleteDirty;
  private readonly markHour;
  private readonly processMinute;
  private readonly processHour;

  constructor(private readonly store: MetricStore) {
    const db = store.db;
    this.selectDirty = db.prepare<[string, number, number]>('SELECT device_id, bucket FROM rollup_dirty WHERE tier = ? AND bucket <= ? ORDER BY bucket LIMIT ?');
    this.deleteDirty = db.prepare<[string, number, string]>('DELETE FROM rollup_dirty WHERE tier = ? AND bucket = ? AND device_id = ?');
    this.markHour = db.prepare<[string, number]>("INSERT OR IGNORE INTO rollup_dirty(tier, device_id, bucket) VALUES ('1h', ?, ?)");
    this.processMinute = db.transaction((rows: DirtyRow[]) => {
      for (const { device_id, bucket } of rows) {
        for (const [series, values] of this.store.readDeviceRaw(device_id, bucket, bucket + MINUTE_MS)) {
          const a = aggregate(values);
          if (a) this.store.putRollup('1m', series, bucket, a);
        }
        this.markHour.run(device_id, Math.floor(bucket / HOUR_MS) * HOUR_MS);
        this.deleteDirty.run('1m', bucket, device_id);
      }
    });
    this.processHour = db.transaction((rows: DirtyRow[]) => {
      for (const { device_id, bucket } of rows) {
        for (const [series, minutes] of this.store.readDeviceRollup('1m', device_id, bucket, bucket + HOUR_MS)) {
          const a = mergeAggregates(minutes);
          if (a) this.store.putRollup('1h', series, bucket, a);
        }
        this.deleteDirty.run('1h', bucket, device_id);
      }
    });
  }

  /**
   * Recomputes dirty buckets that closed before `now`, in transactions of `chunk` buckets,
   * until none is left or `budgetMs` is spent. Returns how many buckets it recomputed and
   * whether work remains (the caller runs it again on a later turn of the loop).
   */
  run(now: number, budgetMs = 20, chunk = 200): { minutes: number; hours: number; more: boolean } {
    const started = performance.now();
    let minutes = 0;
    let hours = 0;
    const spent = () => performance.now() - started >= budgetMs;
    for (;;) {
      const rows = this.selectDirty.all('1m', now - MINUTE_MS, chunk) as DirtyRow[];
      if (rows.length === 0) break;
      this.processMinute(rows);
      minutes += rows.length;
      if (spent()) return { minutes, hours, more: true };
    }
    for (;;) {
      const rows = this.selectDirty.all('1h', now - HOUR_MS, chunk) as DirtyRow[];
      if (rows.length === 0) break;
      this.processHour(rows);
      hours += rows.length;
      if (spent()) return { minutes, hours, more: true };
    }
    return { minutes, hours, more: false };
  }
}
