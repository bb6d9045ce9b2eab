import { STATUS_CODES } from 'node:http';
import { ERRORS, type ErrorCode } from '../../protocol/index.js';

/**
 * What the OpenAPI document says about each operation beyond its schemas: a summary and the
 * error statuses it can answer besides the ones every operation shares (see {@link errorStatuses}).
 * Kept in one table, keyed as OpenAPI spells the operation, so the document test can hold every
 * route to it and route files stay about behaviour.
 */
const OPERATIONS: Record<string, { summary: string; errors?: readonly number[]; public?: true; noContent?: true }> = {
  'POST /api/v1/auth/login': { summary: 'Log in with a password (and a TOTP or recovery code when enabled)', errors: [401, 429], public: true },
  'POST /api/v1/auth/logout': { summary: 'End this session', noContent: true },
  'POST /api/v1/auth/logout-all': { summary: 'End every session of this user', noContent: true },
  'GET /api/v1/auth/me': { summary: 'The logged-in user' },
  'GET /api/v1/auth/account': { summary: 'The logged-in user\'s account: second factor and sessions' },
  'POST /api/v1/auth/totp/setup': { summary: 'Start enabling TOTP: a secret and its otpauth URI' },
  'POST /api/v1/auth/totp/enable': { summary: 'Enable TOTP with a first code; returns recovery codes' },
  'POST /api/v1/auth/totp/disable': { summary: 'Disable TOTP with a current or recovery code', noContent: true },
  'GET /api/v1/users': { summary: 'List users' },
  'POST /api/v1/users': { summary: 'Add a user', errors: [409] },
  'PATCH /api/v1/users/{id}': { summary: 'Change a user\'s role, scope or password', errors: [409] },
  'DELETE /api/v1/users/{id}': { summary: 'Remove a user and end their sessions', errors: [409], noContent: true },
  'GET /api/v1/audit': { summary: 'Search the audit log, newest first' },
  'GET /api/v1/audit/export': { summary: 'Export the selected audit entries as JSON lines' },
  'POST /api/v1/devices/tags': { summary: 'Set or remove tags on several devices at once', errors: [413] },
  'POST /api/v1/devices/revoke': { summary: 'Revoke several devices at once', errors: [413] },
  'GET /api/v1/devices': { summary: 'List devices, a page at a time' },
  'GET /api/v1/devices/{id}': { summary: 'One device' },
  'POST /api/v1/devices/{id}/revoke': { summary: 'Revoke a device: its channels close and it cannot reconnect' },
  'POST /api/v1/devices/{id}/approve': { summary: 'Approve a device waiting for approval' },
  'POST /api/v1/devices/{id}/relay': { summary: "A web relay grant for a web UI on the device's loopback: the path /relay/<device>/<port>/<grant>/ to open (docs/forwarding.md)" },
  'GET /api/v1/tokens': { summary: 'List registration tokens' },
  'POST /api/v1/tokens': { summary: 'Create a registration token and its install command' },
  'POST /api/v1/tokens/{id}/revoke': { summary: 'Revoke a registration token' },
  'GET /api/v1/config/layers': { summary: 'List configuration layers' },
  'GET /api/v1/config/layers/{id}': { summary: 'One configuration layer' },
  'PUT /api/v1/config/layers/{id}': { summary: 'Write a configuration layer (compare-and-set on its version)', errors: [409, 422] },
  'DELETE /api/v1/config/layers/{id}': { summary: 'Delete a group or device layer', errors: [409] },
  'POST /api/v1/config/layers/{id}/rollback': { summary: 'Restore a layer as it was in an earlier version', errors: [409, 422] },
  'POST /api/v1/config/validate': { summary: 'Check a layer\'s values against the namespace schemas without saving', errors: [422] },
  'GET /api/v1/config/history': { summary: 'Configuration changes, newest first' },
  'GET /api/v1/config/revisions/{version}': { summary: 'One configuration revision' },
  'GET /api/v1/config/diff': { summary: 'What changed in a layer or a device\'s effective config between two versions' },
  'GET /api/v1/config/schemas': { summary: 'List namespace schemas' },
  'PUT /api/v1/config/schemas/{namespace}': { summary: 'Set a namespace\'s JSON Schema', errors: [422] },
  'GET /api/v1/config/status': { summary: 'Desired versus reported config across the fleet (drift)' },
  'GET /api/v1/config/devices/{id}/effective': { summary: 'A device\'s effective config and the layers it comes from' },
  'GET /api/v1/metrics/devices/{id}': { summary: 'A device\'s metric series over a time range (raw or rolled up)' },
  'GET /api/v1/metrics/devices/{id}/names': { summary: 'The metric names a device reports' },
  'GET /api/v1/metrics/latest': { summary: 'The latest value of some metrics for many devices' },
  'GET /api/v1/logs': { summary: 'Search stored log lines (full text)' },
  'GET /api/v1/alerts/rules': { summary: 'List alert rules' },
  'POST /api/v1/alerts/rules': { summary: 'Add an alert rule' },
  'DELETE /api/v1/alerts/rules/{id}': { summary: 'Delete an alert rule', noContent: true },
  'GET /api/v1/alerts/events': { summary: 'Alert firing and resolved events, newest first' },
  'GET /api/v1/alerts/active': { summary: 'Alerts firing now' },
  'GET /api/v1/shell/sessions': { summary: 'List recorded shell sessions' },
  'GET /api/v1/shell/sessions/{id}/recording': { summary: 'A shell session\'s recording (asciicast v2)' },
  'GET /api/v1/devices/{id}/files': { summary: 'List a directory on a device (within its allowed roots)', errors: [422, 503, 504] },
  'GET /api/v1/devices/{id}/files/upload': { summary: 'How many bytes of an interrupted upload the device holds (resume from there)', errors: [422, 503, 504] },
  'PUT /api/v1/devices/{id}/files/content': { summary: 'Upload a file to a device path (raw body from `offset`; SHA-256 checked, atomic)', errors: [409, 413, 422, 503, 504, 507] },
  'GET /api/v1/devices/{id}/files/content': { summary: 'Download a file from a device (Range: bytes=N- resumes; SHA-256 in x-tether-sha256)', errors: [416, 422, 503, 504] },
  'POST /api/v1/devices/{id}/commands': { summary: 'Run a command on a device', errors: [422, 503] },
  'GET /api/v1/devices/{id}/runs': { summary: 'Commands run on a device, newest first' },
  'GET /api/v1/runs/{id}': { summary: 'One command run, with its output' },
  'POST /api/v1/runs/{id}/cancel': { summary: 'Cancel a running command', errors: [503] },
  'POST /api/v1/jobs/preview': { summary: 'The devices a job\'s selection matches now' },
  'POST /api/v1/jobs': { summary: 'Start a job over a selection of devices' },
  'GET /api/v1/jobs': { summary: 'List jobs, newest first' },
  'GET /api/v1/jobs/{id}': { summary: 'One job with its per-device status' },
  'POST /api/v1/jobs/{id}/cancel': { summary: 'Cancel a job: queued devices are skipped, running ones cancelled' },
  'POST /api/v1/agent/register': { summary: 'Enrol a device with a registration token and a CSR (used by tether-agent register)', errors: [401, 429], public: true },
};

/** The `{code, message}` body of every 4xx/5xx answer (ARCHITECTURE §8). */
const ERROR_SCHEMA = {
  type: 'object',
  description: 'Every 4xx/5xx answer. Clients act on `code`; `message` is for people.',
  required: ['code', 'message'],
  additionalProperties: false,
  properties: {
    code: { type: 'string', enum: Object.keys(ERRORS), description: 'A stable error code from protocol/errors.ts' },
    message: { type: 'string' },
  },
} as const;

interface Operation {
  summary?: string;
  tags?: string[];
  security?: Array<Record<string, string[]>>;
  responses?: Record<string, unknown>;
  [key: string]: unknown;
}

/** The parts of a document read here; fastify-swagger's own types are a union over OpenAPI versions. */
interface OpenApiDocument {
  paths?: unknown;
  components?: unknown;
}
type Paths = Record<string, Record<string, Operation>>;

/** Every status an operation can answer with an error, ascending. */
function errorStatuses(method: string, path: string, extra: readonly number[] = [], isPublic = false): number[] {
  const statuses = new Set<number>([400, 500, ...extra]);
  if (!isPublic) {
    statuses.add(401);
    statuses.add(403);
  }
  if (path.includes('{')) statuses.add(404);
  return [...statuses].sort((a, b) => a - b);
}

function describeStatus(status: number): string {
  const codes = (Object.keys(ERRORS) as ErrorCode[]).filter((code) => ERRORS[code].http === status);
  return `${STATUS_CODES[status] ?? 'Error'}: \`{code, message}\`${codes.length > 0 ? ` with code ${codes.join(', ')}` : ''}`;
}

/**
 * Completes the generated document: the summary of every operation, its described error answers
 * (referring to one `Error` schema), and no security requirement on the routes that authenticate
 * otherwise (login, agent enrolment).
 */
export function documentOperations<T extends OpenApiDocument>(doc: T): T {
  const components = (doc.components ?? {}) as { schemas?: Record<string, unknown> };
  const schemas = { ...components.schemas, Error: ERROR_SCHEMA };
  const paths: Paths = {};
  for (const [path, methods] of Object.entries((doc.paths ?? {}) as Paths)) {
    paths[path] = {};
    for (const [method, operation] of Object.entries(methods)) {
      const entry = OPERATIONS[`${method.toUpperCase()} ${path}`];
      const responses: Record<string, unknown> = { ...operation.responses };
      // A route without a response schema gets fastify-swagger's placeholder 200.
      if (entry?.noContent) {
        delete responses['200'];
        responses['204'] = { description: 'Done; no body' };
      }
      for (const status of errorStatuses(method, path, entry?.errors, entry?.public)) {
        responses[String(status)] = { description: describeStatus(status), content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
      }
      paths[path][method] = {
        ...operation,
        ...(entry ? { summary: entry.summary } : {}),
        ...(entry?.public ? { security: [] } : {}),
        responses,
      };
    }
  }
  return { ...doc, paths, components: { ...components, schemas } };
}
