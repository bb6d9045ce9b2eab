import { TetherError, type DeviceFacts, type DeviceStatus, type Tags } from '../../protocol/index.js';
import type { Db } from '../store/sqlite/db.js';

export interface DeviceRecord {
  id: string;
  name: string;
  status: DeviceStatus;
  certFingerprint: string;
  tags: Tags;
  facts: DeviceFacts | null;
  createdAt: number;
  lastSeen: number | null;
}

/** A place in the device list's (name, id) order: the last device of a page. */
export interface DeviceListPosition {
  name: string;
  id: string;
}

interface Row {
  id: string; name: string; status: DeviceStatus; cert_fingerprint: string; tags: string;
  facts: string | null; created_at: number; last_seen: number | null;
}

function toRecord(row: Row): DeviceRecord {
  return {
    id: row.id, name: row.name, status: row.status, certFingerprint: row.cert_fingerprint,
    tags: JSON.parse(row.tags) as Tags, facts: row.facts ? (JSON.parse(row.facts) as DeviceFacts) : null,
    createdAt: row.created_at, lastSeen: row.last_seen,
  };
}

/** The devices table. Hot paths (handshake, telemetry auth) use prepared statements. */
export class DeviceRepo {
  private readonly byId;
  private readonly byTelemetryHash;
  private readonly touch;
  private readonly firstPage;
  private readonly nextPage;

  constructor(private readonly db: Db) {
    this.byId = db.prepare('SELECT * FROM devices WHERE id = ?');
    this.byTelemetryHash = db.prepare('SELECT * FROM devices WHERE telemetry_token_hash = ?');
    this.touch = db.prepare('UPDATE devices SET last_seen = ? WHERE id = ?');
    this.firstPage = db.prepare('SELECT * FROM devices ORDER BY name, id LIMIT ?');
    this.nextPage = db.prepare('SELECT * FROM devices WHERE (name, id) > (?, ?) ORDER BY name, id LIMIT ?');
  }

  insert(d: { id: string; name: string; status: DeviceStatus; certFingerprint: string; telemetryTokenHash: Buffer; tags: Tags; facts: DeviceFacts | null; tokenId: string; createdAt: number }): void {
    this.db
      .prepare('INSERT INTO devices(id, name, status, cert_fingerprint, telemetry_token_hash, tags, facts, token_id, created_at) VALUES (?,?,?,?,?,?,?,?,?)')
      .run(d.id, d.name, d.status, d.certFingerprint, d.telemetryTokenHash, JSON.stringify(d.tags), d.facts ? JSON.stringify(d.facts) : null, d.tokenId, d.createdAt);
  }

  find(id: string): DeviceRecord | undefined {
    const row = this.byId.get(id) as Row | undefined;
    return row ? toRecord(row) : undefined;
  }

  get(id: string): DeviceRecord {
    const d = this.find(id);
    if (!d) throw new TetherError('DEVICE_UNKNOWN', `No device ${id}`);
    return d;
  }

  findByTelemetryHash(hash: Buffer): DeviceRecord | undefined {
    const row = this.byTelemetryHash.get(hash) as Row | undefined;
    return row ? toRecord(row) : undefined;
  }

  list(): DeviceRecord[] {
    return (this.db.prepare('SELECT * FROM devices ORDER BY name, id').all() as Row[]).map(toRecord);
  }

  /** Up to `limit` devices in (name, id) order, starting after `after` (from the start when null); reads them off the devices_name index. */
  page(after: DeviceListPosition | null, limit: number): DeviceRecord[] {
    const rows = after === null ? this.firstPage.all(limit) : this.nextPage.all(after.name, after.id, limit);
    return (rows as Row[]).map(toRecord);
  }

  setStatus(id: string, status: DeviceStatus, now: number): DeviceRecord {
    this.get(id);
    this.db.prepare('UPDATE devices SET status = ?, revoked_at = CASE WHEN ? = \'revoked\' THEN ? ELSE revoked_at END WHERE id = ?').run(status, status, now, id);
    return this.get(id);
  }

  /** Runs `fn` in one transaction (nested calls become savepoints): a throw leaves nothing written. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  setTags(id: string, tags: Tags): void {
    this.db.prepare('UPDATE devices SET tags = ? WHERE id = ?').run(JSON.stringify(tags), id);
  }

  setFacts(id: string, facts: DeviceFacts): void {
    this.db.prepare('UPDATE devices SET facts = ? WHERE id = ?').run(JSON.stringify(facts), id);
  }

  /** Writes many last-seen times in one transaction (presence flushes them in batches). */
  saveLastSeen(entries: Iterable<[string, number]>): void {
    this.db.transaction(() => {
      for (const [id, ts] of entries) this.touch.run(ts, id);
    })();
  }
}
