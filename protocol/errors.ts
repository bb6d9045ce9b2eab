/**
 * The one table of stable error codes. HTTP answers carry `{code, message}` with `http`;
 * WebSocket closes carry `close` as the close code and the code string as the reason.
 */
export const ERRORS = {
  BAD_REQUEST: { http: 400, close: 4400, message: 'The request is malformed' },
  UNAUTHORIZED: { http: 401, close: 4401, message: 'Authentication is required' },
  FORBIDDEN: { http: 403, close: 4403, message: 'Not allowed' },
  NOT_FOUND: { http: 404, close: 4404, message: 'Not found' },
  CONFLICT: { http: 409, close: 4409, message: 'Conflicting change' },
  PAYLOAD_TOO_LARGE: { http: 413, close: 4413, message: 'The request body is too large' },
  UNSUPPORTED_MEDIA_TYPE: { http: 415, close: 4405, message: 'The request body has a content type this endpoint does not take (use application/json)' },
  CONTROL_CHARACTERS: { http: 400, close: 4406, message: 'Names, tags and user names must not contain control characters' },
  RATE_LIMITED: { http: 429, close: 4429, message: 'Too many requests' },
  INTERNAL: { http: 500, close: 1011, message: 'Internal error' },
  /** The database refused a read or write it should take (disk full, I/O error, locked too long, unreachable): retry later. */
  STORE_UNAVAILABLE: { http: 503, close: 1013, message: 'The database is unavailable; try again shortly' },

  LOGIN_FAILED: { http: 401, close: 4401, message: 'Wrong username or password' },
  SESSION_INVALID: { http: 401, close: 4401, message: 'The session is invalid or expired' },
  ORIGIN_REFUSED: { http: 403, close: 4403, message: 'The Origin of this request is not allowed' },
  TOTP_REQUIRED: { http: 401, close: 4401, message: 'This account needs a TOTP or recovery code' },
  LAST_ADMIN: { http: 409, close: 4409, message: 'The last admin cannot be removed or demoted' },

  TOKEN_INVALID: { http: 401, close: 4410, message: 'The registration token is not valid' },
  TOKEN_EXPIRED: { http: 401, close: 4411, message: 'The registration token has expired' },
  TOKEN_USED_UP: { http: 401, close: 4412, message: 'The registration token has no uses left' },
  TOKEN_REVOKED: { http: 401, close: 4413, message: 'The registration token was revoked' },
  CSR_INVALID: { http: 400, close: 4414, message: 'The certificate signing request is not valid' },
  CA_PIN_MISMATCH: { http: 495, close: 4415, message: 'The backend CA does not match the pin' },

  DEVICE_UNKNOWN: { http: 404, close: 4420, message: 'No such device' },
  DEVICE_REVOKED: { http: 403, close: 4421, message: 'The device was revoked' },
  DEVICE_PENDING: { http: 403, close: 4422, message: 'The device awaits approval' },
  DEVICE_OFFLINE: { http: 503, close: 4423, message: 'The device is offline' },
  DEVICE_SUPERSEDED: { http: 409, close: 4424, message: 'A newer connection of this device replaced this one' },

  PROTOCOL_VERSION: { http: 400, close: 4430, message: 'Unsupported protocol version' },
  HANDSHAKE_FAILED: { http: 400, close: 4431, message: 'The handshake is malformed or out of order' },
  HANDSHAKE_TIMEOUT: { http: 408, close: 4432, message: 'The handshake did not finish in time' },
  BAD_SIGNATURE: { http: 401, close: 4433, message: 'The handshake signature does not verify' },
  CERT_INVALID: { http: 401, close: 4434, message: 'The certificate is not issued by this backend' },
  CERT_SUBJECT_MISMATCH: { http: 401, close: 4435, message: 'The certificate belongs to another device' },
  BACKEND_IDENTITY_INVALID: { http: 401, close: 4436, message: 'The backend identity does not chain to the pinned CA' },

  FRAME_AUTH_FAILED: { http: 400, close: 4440, message: 'A frame failed authentication' },
  FRAME_REPLAY: { http: 400, close: 4441, message: 'A frame was replayed or reordered' },
  FRAME_TOO_LARGE: { http: 413, close: 4442, message: 'A frame exceeds the size limit' },
  FRAME_MALFORMED: { http: 400, close: 4443, message: 'A frame is malformed' },
  MESSAGE_MALFORMED: { http: 400, close: 4444, message: 'A message is not valid JSON of the expected shape' },
  MESSAGE_UNKNOWN_TYPE: { http: 400, close: 4445, message: 'A message has an unknown type' },
  REKEY_FAILED: { http: 400, close: 4446, message: 'Key rotation failed' },
  HEARTBEAT_TIMEOUT: { http: 408, close: 4447, message: 'The peer went silent' },
  RATE_LIMITED_CHANNEL: { http: 429, close: 4448, message: 'The peer sends too fast' },
  GOING_AWAY: { http: 503, close: 1001, message: 'The server is shutting down' },

  REQUEST_TIMEOUT: { http: 504, close: 4450, message: 'The device did not answer in time' },
  METHOD_UNKNOWN: { http: 400, close: 4451, message: 'The device does not know this method' },
  BACKEND_UNREACHABLE: { http: 503, close: 4452, message: 'The backend cannot be reached' },

  TELEMETRY_TOKEN_INVALID: { http: 401, close: 4460, message: 'The telemetry token is not valid' },
  BATCH_INVALID: { http: 400, close: 4461, message: 'The telemetry batch is not valid' },

  SHELL_LIMIT: { http: 429, close: 4470, message: 'Too many shell sessions' },
  SHELL_ENDED: { http: 410, close: 4471, message: 'The shell session has ended' },
  SHELL_IDLE: { http: 408, close: 4472, message: 'The shell session was idle too long' },
  SHELL_CLOSED: { http: 410, close: 4475, message: 'The terminal was closed' },
  SPAWN_FAILED: { http: 422, close: 4473, message: 'The process could not be started on the device' },
  SELECTION_EMPTY: { http: 400, close: 4474, message: 'The selection matches no device' },
  BATCH_TOO_LARGE: { http: 413, close: 4462, message: 'The telemetry batch exceeds the size limit' },
  BATCH_CLOCK_SKEW: { http: 400, close: 4463, message: 'A sample timestamp is too far from the backend clock' },
  BATCH_DEVICE_MISMATCH: { http: 403, close: 4464, message: 'The batch names another device than its token' },

  CONFIG_VERSION_CONFLICT: { http: 409, close: 4480, message: 'The configuration changed since this edit started; reload and edit again' },
  CONFIG_SCHEMA_VIOLATION: { http: 422, close: 4481, message: 'The value does not satisfy the namespace schema' },
  CONFIG_INVALID: { http: 400, close: 4482, message: 'The configuration or schema is not valid' },
  CONFIG_NAMESPACE_RESERVED: { http: 403, close: 4483, message: 'This namespace is reserved' },

  /** File transfer (protocol/files.ts): the path is outside the agent's allowed roots, climbs out with `..`, or a symlink leads out. */
  PATH_NOT_ALLOWED: { http: 403, close: 4710, message: 'The path is outside the roots this device allows' },
  PATH_NOT_FOUND: { http: 404, close: 4711, message: 'No such file or directory on the device' },
  /** A device, FIFO, socket or directory where a regular file is needed (or a symlink where a file would be replaced). */
  NOT_A_REGULAR_FILE: { http: 422, close: 4712, message: 'The path is not a regular file' },
  NOT_A_DIRECTORY: { http: 422, close: 4713, message: 'The path is not a directory' },
  /** The bytes the device wrote do not have the size or SHA-256 the client announced; nothing was kept. */
  CHECKSUM_MISMATCH: { http: 422, close: 4714, message: 'The file does not match its SHA-256; nothing was written' },
  /** The device's disk (or its file size limit) is full; the partial file was removed. */
  NO_SPACE: { http: 507, close: 4715, message: 'No space left on the device' },
  TRANSFER_UNKNOWN: { http: 404, close: 4716, message: 'No such transfer' },
  /** Another upload of the same transfer id is running. */
  TRANSFER_BUSY: { http: 409, close: 4717, message: 'This transfer is already in progress' },
  /** The device holds fewer bytes of this upload than the offset the client resumes from: ask for the offset again. */
  TRANSFER_OFFSET: { http: 409, close: 4718, message: 'The device does not hold this upload up to that offset' },
  /** The agent's user may not read or write the path (EACCES, EPERM). */
  FILE_ACCESS_DENIED: { http: 403, close: 4719, message: 'The agent may not access this path' },
  RANGE_NOT_SATISFIABLE: { http: 416, close: 4720, message: 'The range is not within the file' },
  /** The file changed on the device while it was sent with its hash last: what was sent may be torn, so it is refused. */
  FILE_CHANGED: { http: 409, close: 4721, message: 'The file changed on the device while it was sent; nothing was kept' },

  BACKEND_RUNNING: { http: 409, close: 4490, message: 'A backend is running on this home; stop it first' },
  BACKUP_INVALID: { http: 400, close: 4491, message: 'The backup is incomplete or fails its integrity check' },
  /** migrate-store and a PostgreSQL restore write only into an empty database (unless told to replace what is there). */
  TARGET_NOT_EMPTY: { http: 409, close: 4492, message: 'The target database already holds data' },
  /** The source and target databases do not have the same tables and columns (different Tether versions). */
  SCHEMA_MISMATCH: { http: 409, close: 4493, message: 'The source and target database schemas differ' },
  /** Copying or restoring into the target failed; it was rolled back and is left as it was. */
  MIGRATION_FAILED: { http: 500, close: 4494, message: 'Copying into the target database failed; nothing was written' },
  /** An external tool the command needs (pg_dump, pg_restore) is missing or failed. */
  TOOL_FAILED: { http: 500, close: 4495, message: 'An external tool failed' },
  /** A stored metric chunk does not decode: a server-side fault, never the caller's input. */
  CHUNK_CORRUPT: { http: 500, close: 1011, message: 'A stored metric chunk is corrupt' },

  /** Forwards and the web relay (protocol/forward.ts). */
  FORWARD_NOT_ALLOWED: { http: 403, close: 4530, message: "The device's configuration does not allow this host and port" },
  FORWARD_REFUSED: { http: 502, close: 4531, message: 'The connection was refused on the device' },
  FORWARD_TIMEOUT: { http: 504, close: 4532, message: 'The connection timed out on the device' },
  FORWARD_UNREACHABLE: { http: 502, close: 4533, message: 'The host is unreachable from the device' },
  FORWARD_RESET: { http: 502, close: 4534, message: 'The connection was reset on the device' },
  FORWARD_LIMIT: { http: 429, close: 4535, message: 'Too many forwarded connections' },

  /** Cluster (docs/cluster.md): `--nats` without a PostgreSQL `--database-url`; the nodes of a cluster share one database. */
  CLUSTER_NEEDS_POSTGRES: { http: 400, close: 4540, message: 'A cluster node (--nats) needs a PostgreSQL --database-url shared by every node' },
  /** A byte stream (shell, command output, file, forward) to a device whose channel is held by another cluster node: not routed yet. */
  /** The cluster's message bus (NATS) cannot be reached: requests to devices held by other nodes fail until it is back. */
  BUS_UNAVAILABLE: { http: 503, close: 4542, message: 'The cluster message bus (NATS) is unavailable; try again shortly' },
  /** A connection from a `--proxy-protocol-from` address did not start with a valid PROXY protocol header (or none came in time); it was closed. */
  PROXY_HEADER_INVALID: { http: 400, close: 4543, message: 'The PROXY protocol header is missing or malformed' },

  IPC_FORBIDDEN: { http: 403, close: 4600, message: 'This desktop call did not come from a console window' },
  PROFILES_CORRUPT: { http: 500, close: 4601, message: 'The backend profiles file is not valid; it was set aside' },
  PROFILE_UNKNOWN: { http: 404, close: 4602, message: 'No such backend profile' },
  NO_ACTIVE_PROFILE: { http: 409, close: 4603, message: 'No backend profile is selected' },
} as const satisfies Record<string, { http: number; close: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERRORS, value);
}

/** An error with a stable code from {@link ERRORS}; tests assert the code, not the message. */
export class TetherError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string = ERRORS[code].message, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TetherError';
    this.code = code;
  }
  get httpStatus(): number {
    return ERRORS[this.code].http;
  }
  get closeCode(): number {
    return ERRORS[this.code].close;
  }
}

/** The error body of every HTTP 4xx/5xx answer. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  /** Validation errors: the offending field of the body, as a JSON pointer (`/username`), so a form can show the message beside its input. */
  field?: string;
}

/** For `switch` statements over discriminated unions: adding a case breaks the build where it is not handled. */
export function missingCase(value: never): never {
  throw new Error(`Unhandled case: ${JSON.stringify(value)}`);
}
