import type { ColumnType, Generated } from 'kysely';

/**
 * The tables as Kysely sees them, the same on both engines: SQLite's INTEGER and PostgreSQL's
 * bigint both read as numbers (the PostgreSQL pool parses int8 to a JS number: every value here is
 * a millisecond time, a count or an id, far below 2^53), BLOB and bytea as Buffers, and flags as
 * 0/1 integers on both so that rows compare equal across engines.
 */
export interface StoreSchema {
  users: UsersTable;
  sessions: SessionsTable;
  recovery_codes: RecoveryCodesTable;
  registration_tokens: RegistrationTokensTable;
  devices: DevicesTable;
  audit_log: AuditLogTable;
  config_layers: ConfigLayersTable;
  config_revisions: ConfigRevisionsTable;
  config_schemas: ConfigSchemasTable;
  config_device_state: ConfigDeviceStateTable;
  shell_sessions: ShellSessionsTable;
  jobs: JobsTable;
  runs: RunsTable;
  alert_rules: AlertRulesTable;
  alert_events: AlertEventsTable;
  alert_state: AlertStateTable;
  logs: LogsTable;
  telemetry_batches: TelemetryBatchesTable;
}

export interface UsersTable {
  id: Generated<number>;
  username: string;
  password_hash: string;
  role: 'admin' | 'operator' | 'viewer';
  created_at: number;
  scope: string | null;
  totp_secret: string | null;
  totp_pending_secret: string | null;
  totp_last_counter: number | null;
}

export interface SessionsTable {
  token_hash: Buffer;
  user_id: number;
  created_at: number;
  expires_at: number;
  last_seen_at: number | null;
}

export interface RecoveryCodesTable {
  user_id: number;
  code_hash: Buffer;
  used_at: number | null;
}

export interface RegistrationTokensTable {
  id: string;
  secret_hash: Buffer;
  created_at: number;
  expires_at: number | null;
  max_uses: number | null;
  uses: Generated<number>;
  tags: Generated<string>;
  require_approval: Generated<number>;
  revoked_at: number | null;
  created_by: string;
}

export interface DevicesTable {
  id: string;
  name: string;
  status: 'pending' | 'active' | 'revoked';
  cert_fingerprint: string;
  telemetry_token_hash: Buffer;
  tags: Generated<string>;
  facts: string | null;
  token_id: string | null;
  created_at: number;
  last_seen: number | null;
  revoked_at: number | null;
}

export interface AuditLogTable {
  id: Generated<number>;
  ts: number;
  actor: string;
  action: string;
  target: string | null;
  details: Generated<string>;
}

export interface ConfigLayersTable {
  id: string;
  kind: 'fleet' | 'group' | 'device';
  selector: Generated<string>;
  priority: Generated<number>;
  vals: Generated<string>;
  version: number;
  updated_at: number;
  updated_by: string;
}

export interface ConfigRevisionsTable {
  version: Generated<number>;
  ts: number;
  author: string;
  message: Generated<string>;
  action: 'layer.put' | 'layer.delete' | 'layer.rollback' | 'schema.put';
  target: string;
  before: string | null;
  after: string | null;
}

export interface ConfigSchemasTable {
  namespace: string;
  schema: string;
  version: number;
}

export interface ConfigDeviceStateTable {
  device_id: string;
  desired_version: number;
  desired_hash: string;
  reported_version: number | null;
  reported_status: 'applied' | 'failed' | 'rejected' | null;
  reported_error: string | null;
  reported_at: number | null;
}

export interface ShellSessionsTable {
  id: string;
  device_id: string;
  username: string;
  started_at: number;
  ended_at: number | null;
  exit_code: number | null;
  end_code: string | null;
  output_bytes: Generated<number>;
  recording: string | null;
  /** The backend process holding the session (a cluster node's instance); null on a single node. */
  owner: string | null;
}

export interface JobsTable {
  id: string;
  state: 'running' | 'completed' | 'aborted' | 'cancelled';
  command: string;
  concurrency: number;
  batch_size: number;
  max_failure_ratio: number | null;
  queue_offline: number;
  offline_expiry_ms: number;
  created_by: string;
  created_at: number;
  ended_at: number | null;
  reason: string | null;
  /** The backend process driving the job (a cluster node's instance); null on a single node. */
  owner: string | null;
}

export interface RunsTable {
  id: string;
  job_id: string | null;
  device_id: string;
  state: 'queued' | 'running' | 'succeeded' | 'failed' | 'timed_out' | 'cancelled' | 'expired';
  command: string;
  batch: number | null;
  /** Position within its job, in creation order (null for a single command). */
  seq: number | null;
  exit_code: number | null;
  signal: string | null;
  stdout: Generated<Buffer>;
  stderr: Generated<Buffer>;
  truncated: Generated<number>;
  error: string | null;
  created_by: string;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  /** The backend process running the run (its job's, for a job's run); null on a single node. */
  owner: string | null;
}

export interface AlertRulesTable {
  id: Generated<number>;
  name: string;
  condition: string;
  for_ms: number;
  scope: Generated<string>;
  enabled: Generated<number>;
  created_at: number;
}

export interface AlertEventsTable {
  id: Generated<number>;
  rule_id: number;
  rule_name: string;
  device_id: string;
  state: 'firing' | 'resolved';
  ts: number;
  value: number | null;
}

/** The current state of each (rule, device) that has fired, and its last event. */
export interface AlertStateTable {
  rule_id: number;
  device_id: string;
  state: 'firing' | 'resolved';
  event_id: number | null;
}

export interface LogsTable {
  id: Generated<number>;
  device_id: string;
  ts: number;
  level: string;
  source: string;
  message: string;
  /** PostgreSQL only: the tsvector of message and source, written by the log store (never read as a value). */
  search: ColumnType<never, string | undefined, never>;
}

export interface TelemetryBatchesTable {
  device_id: string;
  seq: number;
  received_at: number;
}
