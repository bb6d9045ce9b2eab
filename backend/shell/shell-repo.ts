import type { ShellSessionInfo } from '../../protocol/index.js';
import type { Db } from '../store/sqlite/db.js';

interface Row {
  id: string; device_id: string; username: string; started_at: number; ended_at: number | null;
  exit_code: number | null; end_code: string | null; output_bytes: number; recording: string | null;
}

/** The shell_sessions table: who opened which session, how it ended, where its recording is. */
export class ShellRepo {
  constructor(private readonly db: Db) {}

  insert(s: { id: string; deviceId: string; username: string; startedAt: number; recording: string }): void {
    this.db.prepare('INSERT INTO shell_sessions(id, device_id, username, started_at, recording) VALUES (?,?,?,?,?)').run(s.id, s.deviceId, s.username, s.startedAt, s.recording);
  }

  end(id: string, e: { endedAt: number; exitCode: number | null; endCode: string | null; outputBytes: number }): void {
    this.db.prepare('UPDATE shell_sessions SET ended_at = ?, exit_code = ?, end_code = ?, output_bytes = ? WHERE id = ?').run(e.endedAt, e.exitCode, e.endCode, e.outputBytes, id);
  }

  /** Sessions still open in the table after a restart never ended cleanly. */
  endOrphans(now: number): void {
    this.db.prepare("UPDATE shell_sessions SET ended_at = ?, end_code = 'GOING_AWAY' WHERE ended_at IS NULL").run(now);
  }

  find(id: string): (ShellSessionInfo & { recording: string | null }) | undefined {
    const row = this.db.prepare('SELECT * FROM shell_sessions WHERE id = ?').get(id) as Row | undefined;
    return row ? { ...toInfo(row, null), recording: row.recording } : undefined;
  }

  list(filter: { deviceId?: string; limit: number }, live: (id: string) => { maxPendingBytes: number } | null): ShellSessionInfo[] {
    const rows = (filter.deviceId
      ? this.db.prepare('SELECT * FROM shell_sessions WHERE device_id = ? ORDER BY started_at DESC LIMIT ?').all(filter.deviceId, filter.limit)
      : this.db.prepare('SELECT * FROM shell_sessions ORDER BY started_at DESC LIMIT ?').all(filter.limit)) as Row[];
    return rows.map((r) => toInfo(r, live(r.id)));
  }

  /** Recordings of sessions that ended before `cutoff`; the caller deletes the files, then forgets them here. */
  expiredRecordings(cutoff: number): Array<{ id: string; recording: string }> {
    return this.db.prepare('SELECT id, recording FROM shell_sessions WHERE recording IS NOT NULL AND ended_at IS NOT NULL AND ended_at < ?').all(cutoff) as Array<{ id: string; recording: string }>;
  }

  forgetRecording(id: string): void {
    this.db.prepare('UPDATE shell_sessions SET recording = NULL WHERE id = ?').run(id);
  }
}

function toInfo(r: Row, live: { maxPendingBytes: number } | null): ShellSessionInfo {
  return {
    maxPendingBytes: live?.maxPendingBytes ?? null,
    id: r.id, deviceId: r.device_id, username: r.username, startedAt: r.started_at, endedAt: r.ended_at,
    exitCode: r.exit_code, endCode: r.end_code, outputBytes: r.output_bytes, live: live !== null, hasRecording: r.recording !== null,
  };
}
