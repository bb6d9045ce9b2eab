/**
 * Numbered schema migrations. Append only: a released migration is never edited,
 * a change is a new entry. Each one has a test in migrations.test.ts.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MAIN_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'users, sessions, registration tokens, devices, audit',
    sql: `
      CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('admin','operator','viewer')),
        created_at INTEGER NOT NULL
      );
      CREATE TABLE sessions (
        token_hash BLOB PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX sessions_user ON sessions(user_id);
      CREATE TABLE registration_tokens (
        id TEXT PRIMARY KEY,
        secret_hash BLOB NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        max_uses INTEGER,
        uses INTEGER NOT NULL DEFAULT 0,
        tags TEXT NOT NULL DEFAULT '{}',
        require_approval INTEGER NOT NULL DEFAULT 0,
        revoked_at INTEGER,
        created_by TEXT NOT NULL
      );
      CREATE TABLE devices (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending','active','revoked')),
        cert_fingerprint TEXT NOT NULL,
        telemetry_token_hash BLOB NOT NULL UNIQUE,
        tags TEXT NOT NULL DEFAULT '{}',
        facts TEXT,
        token_id TEXT REFERENCES registration_tokens(id),
        created_at INTEGER NOT NULL,
        last_seen INTEGER,
        revoked_at INTEGER
      );
      CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY,
        ts INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT,
        details TEXT NOT NULL DEFAULT '{}'
      );
      CREATE INDEX audit_ts ON audit_log(ts);
    `,
  },
];

export const METRICS_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'telemetry batches and raw samples',
    sql: `
      CREATE TABLE telemetry_batches (
        device_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        PRIMARY KEY (device_id, seq)
      ) WITHOUT ROWID;
      CREATE TABLE samples (
        device_id TEXT NOT NULL,
        name TEXT NOT NULL,
        ts INTEGER NOT NULL,
        value REAL NOT NULL
      );
      CREATE INDEX samples_device_name_ts ON samples(device_id, name, ts);
    `,
  },
];
