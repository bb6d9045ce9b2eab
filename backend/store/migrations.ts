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
  {
    version: 2,
    name: 'remote configuration: layers, revisions, namespace schemas, per-device delivery state',
    sql: `
      CREATE TABLE config_layers (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('fleet','group','device')),
        selector TEXT NOT NULL DEFAULT '{}',
        priority INTEGER NOT NULL DEFAULT 0,
        vals TEXT NOT NULL DEFAULT '{}',
        version INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        updated_by TEXT NOT NULL
      );
      CREATE TABLE config_revisions (
        version INTEGER PRIMARY KEY AUTOINCREMENT,
        ts INTEGER NOT NULL,
        author TEXT NOT NULL,
        message TEXT NOT NULL DEFAULT '',
        action TEXT NOT NULL CHECK (action IN ('layer.put','layer.delete','layer.rollback','schema.put')),
        target TEXT NOT NULL,
        before TEXT,
        after TEXT
      );
      CREATE INDEX config_revisions_target ON config_revisions(target, version);
      CREATE TABLE config_schemas (
        namespace TEXT PRIMARY KEY,
        schema TEXT NOT NULL,
        version INTEGER NOT NULL
      );
      CREATE TABLE config_device_state (
        device_id TEXT PRIMARY KEY,
        desired_version INTEGER NOT NULL,
        desired_hash TEXT NOT NULL,
        reported_version INTEGER,
        reported_status TEXT CHECK (reported_status IN ('applied','failed','rejected')),
        reported_error TEXT,
        reported_at INTEGER
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 3,
    name: 'shell sessions, command runs and fleet jobs',
    sql: `
      CREATE TABLE shell_sessions (
        id TEXT PRIMARY KEY,
        device_id TEXT NOT NULL,
        username TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        ended_at INTEGER,
        exit_code INTEGER,
        end_code TEXT,
        output_bytes INTEGER NOT NULL DEFAULT 0,
        recording TEXT
      );
      CREATE INDEX shell_sessions_device ON shell_sessions(device_id, started_at);
      CREATE INDEX shell_sessions_ended ON shell_sessions(ended_at);
      CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        state TEXT NOT NULL CHECK (state IN ('running','completed','aborted','cancelled')),
        command TEXT NOT NULL,
        concurrency INTEGER NOT NULL,
        batch_size INTEGER NOT NULL,
        max_failure_ratio REAL,
        queue_offline INTEGER NOT NULL,
        offline_expiry_ms INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        ended_at INTEGER,
        reason TEXT
      );
      CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        job_id TEXT REFERENCES jobs(id) ON DELETE CASCADE,
        device_id TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('queued','running','succeeded','failed','timed_out','cancelled','expired')),
        command TEXT NOT NULL,
        batch INTEGER,
        exit_code INTEGER,
        signal TEXT,
        stdout BLOB NOT NULL DEFAULT x'',
        stderr BLOB NOT NULL DEFAULT x'',
        truncated INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        started_at INTEGER,
        ended_at INTEGER,
        UNIQUE (job_id, device_id)
      );
      CREATE INDEX runs_job ON runs(job_id, batch);
      CREATE INDEX runs_device ON runs(device_id, created_at);
    `,
  },
  {
    version: 4,
    name: 'users: device scopes, TOTP with recovery codes, idle session expiry, audit filters',
    sql: `
      ALTER TABLE users ADD COLUMN scope TEXT;
      ALTER TABLE users ADD COLUMN totp_secret TEXT;
      ALTER TABLE users ADD COLUMN totp_pending_secret TEXT;
      ALTER TABLE users ADD COLUMN totp_last_counter INTEGER;
      CREATE TABLE recovery_codes (
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        code_hash BLOB NOT NULL,
        used_at INTEGER,
        PRIMARY KEY (user_id, code_hash)
      ) WITHOUT ROWID;
      ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER;
      UPDATE sessions SET last_seen_at = created_at;
      CREATE INDEX audit_actor ON audit_log(actor, id);
      CREATE INDEX audit_action ON audit_log(action, id);
    `,
  },
  {
    version: 5,
    name: 'devices: name order index for the keyset-paged device list',
    sql: `
      CREATE INDEX devices_name ON devices(name, id);
    `,
  },
  {
    version: 6,
    name: 'runs: position within the job, so both engines list a job\'s runs in creation order',
    sql: `
      ALTER TABLE runs ADD COLUMN seq INTEGER;
    `,
  },
  {
    version: 7,
    name: 'jobs, runs and shell sessions: the backend process (cluster node instance) running them',
    sql: `
      ALTER TABLE jobs ADD COLUMN owner TEXT;
      ALTER TABLE runs ADD COLUMN owner TEXT;
      ALTER TABLE shell_sessions ADD COLUMN owner TEXT;
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
  {
    version: 2,
    name: 'monitoring: rollups, dirty buckets, logs with FTS5, alert rules and events',
    sql: `
      CREATE INDEX samples_ts ON samples(ts);
      CREATE INDEX telemetry_batches_received ON telemetry_batches(received_at);
      CREATE TABLE rollup_1m (
        device_id TEXT NOT NULL, name TEXT NOT NULL, bucket INTEGER NOT NULL,
        count INTEGER NOT NULL, sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL,
        PRIMARY KEY (device_id, name, bucket)
      ) WITHOUT ROWID;
      CREATE INDEX rollup_1m_bucket ON rollup_1m(bucket);
      CREATE TABLE rollup_1h (
        device_id TEXT NOT NULL, name TEXT NOT NULL, bucket INTEGER NOT NULL,
        count INTEGER NOT NULL, sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL,
        PRIMARY KEY (device_id, name, bucket)
      ) WITHOUT ROWID;
      CREATE INDEX rollup_1h_bucket ON rollup_1h(bucket);
      CREATE TABLE rollup_dirty (
        tier TEXT NOT NULL CHECK (tier IN ('1m','1h')),
        device_id TEXT NOT NULL,
        bucket INTEGER NOT NULL,
        PRIMARY KEY (tier, bucket, device_id)
      ) WITHOUT ROWID;
      CREATE TABLE logs (
        id INTEGER PRIMARY KEY,
        device_id TEXT NOT NULL,
        ts INTEGER NOT NULL,
        level TEXT NOT NULL,
        source TEXT NOT NULL,
        message TEXT NOT NULL
      );
      CREATE INDEX logs_device_ts ON logs(device_id, ts);
      CREATE INDEX logs_ts ON logs(ts);
      CREATE VIRTUAL TABLE logs_fts USING fts5(message, source, content='logs', content_rowid='id');
      CREATE TRIGGER logs_ai AFTER INSERT ON logs BEGIN
        INSERT INTO logs_fts(rowid, message, source) VALUES (new.id, new.message, new.source);
      END;
      CREATE TRIGGER logs_ad AFTER DELETE ON logs BEGIN
        INSERT INTO logs_fts(logs_fts, rowid, message, source) VALUES ('delete', old.id, old.message, old.source);
      END;
      CREATE TABLE alert_rules (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        condition TEXT NOT NULL,
        for_ms INTEGER NOT NULL,
        scope TEXT NOT NULL DEFAULT '{}',
        enabled INTEGER NOT NULL DEFAULT 1,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE alert_events (
        id INTEGER PRIMARY KEY,
        rule_id INTEGER NOT NULL,
        rule_name TEXT NOT NULL,
        device_id TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('firing','resolved')),
        ts INTEGER NOT NULL,
        value REAL
      );
      CREATE INDEX alert_events_ts ON alert_events(ts);
    `,
  },
  {
    version: 3,
    name: 'metrics as compressed chunks: interned series, raw and rollup heads keyed by series, chunk tables per tier',
    sql: `
      CREATE TABLE series (
        id INTEGER PRIMARY KEY,
        device_id TEXT NOT NULL,
        name TEXT NOT NULL,
        UNIQUE (device_id, name)
      );
      INSERT INTO series(device_id, name)
        SELECT device_id, name FROM samples UNION SELECT device_id, name FROM rollup_1m UNION SELECT device_id, name FROM rollup_1h;

      CREATE TABLE raw_head (series_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL);
      INSERT INTO raw_head(series_id, ts, value)
        SELECT s.id, x.ts, x.value FROM samples x JOIN series s ON s.device_id = x.device_id AND s.name = x.name ORDER BY x.ts;
      DROP TABLE samples;
      CREATE INDEX raw_head_series_ts ON raw_head(series_id, ts);

      CREATE TABLE rollup_1m_head (
        series_id INTEGER NOT NULL, bucket INTEGER NOT NULL,
        count INTEGER NOT NULL, sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL,
        PRIMARY KEY (series_id, bucket)
      ) WITHOUT ROWID;
      INSERT INTO rollup_1m_head SELECT s.id, r.bucket, r.count, r.sum, r.min, r.max FROM rollup_1m r JOIN series s ON s.device_id = r.device_id AND s.name = r.name;
      DROP TABLE rollup_1m;
      CREATE TABLE rollup_1h_head (
        series_id INTEGER NOT NULL, bucket INTEGER NOT NULL,
        count INTEGER NOT NULL, sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL,
        PRIMARY KEY (series_id, bucket)
      ) WITHOUT ROWID;
      INSERT INTO rollup_1h_head SELECT s.id, r.bucket, r.count, r.sum, r.min, r.max FROM rollup_1h r JOIN series s ON s.device_id = r.device_id AND s.name = r.name;
      DROP TABLE rollup_1h;

      -- Chunks are keyed by window first: compaction writes a whole window of every series at a
      -- time, so the table (and its pages) grow at the end and stay full; queries by series go
      -- through the small (series, window) index; retention deletes a prefix of the table.
      CREATE TABLE raw_chunks (
        start INTEGER NOT NULL, series_id INTEGER NOT NULL, count INTEGER NOT NULL, data BLOB NOT NULL,
        PRIMARY KEY (start, series_id)
      ) WITHOUT ROWID;
      CREATE INDEX raw_chunks_series ON raw_chunks(series_id, start);
      CREATE TABLE rollup_1m_chunks (
        start INTEGER NOT NULL, series_id INTEGER NOT NULL, count INTEGER NOT NULL, data BLOB NOT NULL,
        PRIMARY KEY (start, series_id)
      ) WITHOUT ROWID;
      CREATE INDEX rollup_1m_chunks_series ON rollup_1m_chunks(series_id, start);
      CREATE TABLE rollup_1h_chunks (
        start INTEGER NOT NULL, series_id INTEGER NOT NULL, count INTEGER NOT NULL, data BLOB NOT NULL,
        PRIMARY KEY (start, series_id)
      ) WITHOUT ROWID;
      CREATE INDEX rollup_1h_chunks_series ON rollup_1h_chunks(series_id, start);
    `,
  },
  {
    version: 4,
    name: 'alerts: the state of each (rule, device), so that firing and resolving are decided atomically',
    sql: `
      CREATE TABLE alert_state (
        rule_id INTEGER NOT NULL,
        device_id TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('firing','resolved')),
        event_id INTEGER,
        PRIMARY KEY (rule_id, device_id)
      ) WITHOUT ROWID;
      INSERT INTO alert_state(rule_id, device_id, state, event_id)
        SELECT e.rule_id, e.device_id, e.state, e.id FROM alert_events e
        JOIN (SELECT rule_id, device_id, max(id) AS id FROM alert_events GROUP BY rule_id, device_id) last ON last.id = e.id;
    `,
  },
];
