import type { Db } from '../store/db.js';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;

interface DirtyRow {
  device_id: string;
  bucket: number;
}

/**
 * Keeps the 1-minute and 1-hour rollups equal to aggregates of the rows below them.
 * Ingest marks each (device, minute) it writes as dirty; this job recomputes closed dirty
 * minutes from the raw rows, which marks their hours dirty, and recomputes closed dirty
 * hours from the minute rows. Recomputing (rather than adding) makes it idempotent and
 * correct for late samples from an agent that was offline.
 */
export class RollupJob {
  private readonly selectDirty;
  private readonly deleteDirty;
  private readonly markHour;
  private readonly minuteFromRaw;
  private readonly hourFromMinutes;
  private readonly processMinute;
  private readonly processHour;

  constructor(db: Db) {
    this.selectDirty = db.prepare('SELECT device_id, bucket FROM rollup_dirty WHERE tier = ? AND bucket <= ? ORDER BY bucket LIMIT ?');
    this.deleteDirty = db.prepare('DELETE FROM rollup_dirty WHERE tier = ? AND bucket = ? AND device_id = ?');
    this.markHour = db.prepare("INSERT OR IGNORE INTO rollup_dirty(tier, device_id, bucket) VALUES ('1h', ?, ?)");
    this.minuteFromRaw = db.prepare(`
      INSERT OR REPLACE INTO rollup_1m(device_id, name, bucket, count, sum, min, max)
      SELECT device_id, name, ?, count(*), sum(value), min(value), max(value)
      FROM samples WHERE device_id = ? AND ts >= ? AND ts < ? GROUP BY name`);
    this.hourFromMinutes = db.prepare(`
      INSERT OR REPLACE INTO rollup_1h(device_id, name, bucket, count, sum, min, max)
      SELECT device_id, name, ?, sum(count), sum(sum), min(min), max(max)
      FROM rollup_1m WHERE device_id = ? AND bucket >= ? AND bucket < ? GROUP BY name`);
    this.processMinute = db.transaction((rows: DirtyRow[]) => {
      for (const { device_id, bucket } of rows) {
        this.minuteFromRaw.run(bucket, device_id, bucket, bucket + MINUTE_MS);
        this.markHour.run(device_id, Math.floor(bucket / HOUR_MS) * HOUR_MS);
        this.deleteDirty.run('1m', bucket, device_id);
      }
    });
    this.processHour = db.transaction((rows: DirtyRow[]) => {
      for (const { device_id, bucket } of rows) {
        this.hourFromMinutes.run(bucket, device_id, bucket, bucket + HOUR_MS);
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
