import { existsSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import fastifyHelmet from '@fastify/helmet';
import fastifySwagger from '@fastify/swagger';
import fastifyStatic from '@fastify/static';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyRequest } from 'fastify';
import { createJsonSchemaTransform, createJsonSchemaTransformObject, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { z } from 'zod';
import {
  CONSOLE_CSP_DIRECTIVES,
  Device,
  DeviceId,
  DeviceList,
  DeviceListQuery,
  ERRORS,
  JsonValue,
  PROTOCOL_VERSION,
  RegisterRequest,
  RegisterResponse,
  RegistrationToken,
  TetherError,
  TokenCreateRequest,
  TokenCreateResponse,
  type Role,
} from '../../protocol/index.js';
import type { AuditLog } from '../audit/audit-log.js';
import { authenticateRequest, requireRole } from '../auth/request-auth.js';
import type { UserService } from '../auth/users.js';
import type { DeviceAccess } from '../auth/device-access.js';
import type { LoginThrottle } from '../auth/login-throttle.js';
import { registerUserRoutes } from '../auth/user-routes.js';
import type { AuditQueryService } from '../audit/audit-query.js';
import { registerAuditRoutes } from '../audit/audit-routes.js';
import type { DeviceService } from '../devices/device-service.js';
import { registerDeviceRoutes } from '../devices/device-routes.js';
import type { EnrolmentService } from '../enrol/enrolment.js';
import type { TokenService } from '../enrol/tokens.js';
import { RateLimitedError, type RegisterLimiter } from '../enrol/register-limiter.js';
import type { ConfigDelivery } from '../config/config-delivery.js';
import { registerConfigRoutes } from '../config/config-routes.js';
import type { ConfigService } from '../config/config-service.js';
import type { Monitoring } from '../metrics/monitoring.js';
import { registerMonitoringRoutes } from '../metrics/monitoring-routes.js';
import type { JobScheduler } from '../jobs/job-scheduler.js';
import { registerJobRoutes } from '../jobs/jobs-routes.js';
import type { RunService } from '../jobs/run-service.js';
import { registerShellRoutes } from '../shell/shell-routes.js';
import { registerFileRoutes } from '../files/file-routes.js';
import type { FileService } from '../files/file-service.js';
import { registerRelayRoutes } from '../relay/relay-routes.js';
import type { RelayGrants } from '../relay/relay-grants.js';
import type { ShellService } from '../shell/shell-service.js';
import type { StoreHealth } from '../store/store-health.js';
import { handleError } from './error-handler.js';
import { hasLongBody } from './long-requests.js';
import { refuseCrossSite } from './cross-site-guard.js';
import { checkJsonDepth } from './json-depth.js';
import { guardSessions } from './session-guard.js';
import { HSTS_MAX_AGE_S, TLS_PROFILE } from './tls-profile.js';
import { documentOperations } from './openapi-docs.js';
import type { BackendMetrics } from '../ops/backend-metrics.js';
import { registerOpsRoutes } from '../ops/ops-routes.js';
import { registerInstallRoutes, type InstallRoutesDeps } from '../ops/install-routes.js';

export interface HttpAppDeps {
  tls: { key: string; cert: string };
  log: Logger;
  users: UserService;
  tokens: TokenService;
  enrolment: EnrolmentService;
  devices: DeviceService;
  audit: AuditLog;
  /** Applies users' device scopes. */
  access: DeviceAccess;
  loginThrottle: LoginThrottle;
  /** Failed registrations per client address. */
  registerLimiter: RegisterLimiter;
  auditQuery: AuditQueryService;
  caPin: string;
  /** Base URL agents and consoles use, for install commands. */
  publicUrl: () => string;
  /** Built console (renderer/dist); `/` answers 503 with a hint when it has not been built. */
  consoleDir: string;
  ready: () => boolean;
  /** The databases' health: /readyz is red while they fail, and request errors from an outage mark it. */
  storeHealth: StoreHealth;
  /** A cluster node's message bus (NATS): /readyz is red while it is disconnected. */
  busHealth?: { readonly problem: string | undefined };
  shell: { service: ShellService };
  files: { service: FileService };
  jobs: { runs: RunService; scheduler: JobScheduler };
  config: { service: ConfigService; delivery: ConfigDelivery };
  monitoring: Monitoring;
  /** Served at /metrics; every answered request is timed into it. */
  metrics: Pick<BackendMetrics, 'registry' | 'observeHttp'>;
  /** /install.sh, /ca.crt and the agent bundle. */
  install: Omit<InstallRoutesDeps, 'log'>;
  /** Origins of the console (filled in once the backend listens); state-changing requests from others are refused. */
  allowedOrigins?: ReadonlySet<string>;
  /** Web relay grants (`POST /api/v1/devices/:id/relay`); the relay itself is routed before Fastify (backend/relay/web-relay.ts). */
  relay?: { grants: RelayGrants };
}


const IdParams = z.object({ id: z.string().max(64) });
const DeviceParams = z.object({ id: DeviceId });
const SLOW_CLIENT_TIMEOUT_MS = 10_000;

/** Builds the HTTPS API (not yet listening). Routes are grouped by capability below. */
export async function buildHttpApp(deps: HttpAppDeps) {
  const app = Fastify({
    // Slow clients (slowloris) are cut: a TLS handshake or a request's headers (the WebSocket
    // upgrade included) must arrive within 10 s, checked every 2 s (Node's defaults: 120 s, 60 s, 30 s).
    // sessionIdContext: the same on every node (Node's default hashes the command line, which
    // names the home), so a session resumes on any node with the shared ticket keys (ticket-keys.ts).
    https: { key: deps.tls.key, cert: deps.tls.cert, ...TLS_PROFILE, sessionIdContext: 'tether-backend', handshakeTimeout: SLOW_CLIENT_TIMEOUT_MS, connectionsCheckingInterval: 2_000 },
    loggerInstance: deps.log,
    bodyLimit: 256 * 1024,
    requestTimeout: 30_000,
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    // A request Node cannot parse gets a coded answer like any other; a timed-out one is just cut.
    clientErrorHandler: answerClientError,
  });
  app.server.headersTimeout = SLOW_CLIENT_TIMEOUT_MS;
  // Fastify's own JSON parser (prototype-poisoning checks) behind a nesting bound.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    try {
      checkJsonDepth(text);
    } catch (err) {
      done(err as TetherError, undefined);
      return;
    }
    parseJson(request, text, done);
  });
  // The API takes JSON only: anything else is 415 UNSUPPORTED_MEDIA_TYPE (Fastify would parse text/plain).
  app.removeContentTypeParser('text/plain');
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler((err, request, reply) => handleError(err, request, reply, (outage) => deps.storeHealth.failed(outage)));
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ code: 'NOT_FOUND', message: `No route ${request.method} ${request.url.split('?')[0] ?? ''}` });
  });
  // Helmet's defaults (nosniff, no-referrer, same-origin COOP/CORP, ...) plus the console's CSP and
  // HSTS. First of the onRequest hooks, so that the refusals after it (403, 401) carry them too.
  await app.register(fastifyHelmet, {
    contentSecurityPolicy: { useDefaults: false, directives: CONSOLE_CSP_DIRECTIVES },
    strictTransportSecurity: { maxAge: HSTS_MAX_AGE_S, includeSubDomains: false },
    xFrameOptions: { action: 'deny' },
  });
  const allowedOrigins = deps.allowedOrigins;
  if (allowedOrigins) app.addHook('onRequest', async (request) => refuseCrossSite(request.raw, allowedOrigins));
  // API answers carry sessions, tokens and fleet data: never kept by a browser or proxy cache.
  app.addHook('onSend', async (request, reply) => {
    if (request.url.startsWith('/api/') && !reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
  });

  // Schemas the document names as components: recursive ones cannot be inlined.
  const namedSchemas = z.registry<{ id: string }>();
  namedSchemas.add(JsonValue, { id: 'JsonValue' });
  const withNamedSchemas = createJsonSchemaTransformObject({ schemaRegistry: namedSchemas });
  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'Tether API', version: `${PROTOCOL_VERSION}` },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: createJsonSchemaTransform({ schemaRegistry: namedSchemas }),
    transformObject: (input) => documentOperations(withNamedSchemas(input)),
  });

  const api = app.withTypeProvider<ZodTypeProvider>();
  const sessionOf = guardSessions(app, deps.users);
  const auth = (request: FastifyRequest, role: Role = 'viewer') => {
    const session = sessionOf(request);
    requireRole(session.user, role);
    return session;
  };
  /** auth plus the device's existence and the user's scope: every route naming a device uses this. */
  const authDevice = (request: FastifyRequest, role: Role, deviceId: string) => {
    const session = auth(request, role);
    deps.access.require(session.user, deviceId);
    return session;
  };

  api.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  // The rendered reference, for admins (the document itself stays public, as it always was).
  // Swagger UI's page loads only its own scripts and styles, so the console's CSP holds; its
  // standalone layout is not used because that top bar's logo is an inline <style> the CSP blocks.
  await app.register(fastifySwaggerUi, {
    routePrefix: '/api/docs',
    uiConfig: { layout: 'BaseLayout', deepLinking: true },
    uiHooks: { onRequest: async (request) => requireRole((await authenticateRequest(deps.users, request.headers)).user, 'admin') },
  });
  api.get('/healthz', { schema: { hide: true } }, async () => ({ ok: true }));
  api.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    if (!deps.ready()) return reply.status(503).send({ ok: false });
    const problem = deps.storeHealth.problem;
    if (problem !== undefined) return reply.status(503).send({ ok: false, code: 'STORE_UNAVAILABLE', message: problem });
    const busProblem = deps.busHealth?.problem;
    if (busProblem !== undefined) return reply.status(503).send({ ok: false, code: 'BUS_UNAVAILABLE', message: busProblem });
    return { ok: true };
  });

  registerOpsRoutes(api, { metrics: deps.metrics });
  registerInstallRoutes(api, { ...deps.install, log: deps.log });

  registerUserRoutes(api, { users: deps.users, throttle: deps.loginThrottle, auth });
  registerAuditRoutes(api, { query: deps.auditQuery, auth });

  // ── devices ──
  registerDeviceRoutes(api, {
    devices: deps.devices,
    authDevices: (request, role, deviceIds) => {
      const session = auth(request, role);
      // Unscoped users get DEVICE_UNKNOWN from the all-or-nothing change itself.
      if (session.user.scope) for (const id of deviceIds) deps.access.require(session.user, id);
      return session;
    },
  });
  api.get('/api/v1/devices', { schema: { tags: ['devices'], querystring: DeviceListQuery, response: { 200: DeviceList } } }, async (request) => {
    const { user } = auth(request);
    const page = await deps.devices.page(request.query);
    return { devices: deps.access.filter(user, page.devices, (d) => d.id), nextAfter: page.nextAfter };
  });
  api.get('/api/v1/devices/:id', { schema: { tags: ['devices'], params: DeviceParams, response: { 200: Device } } }, async (request) => {
    authDevice(request, 'viewer', request.params.id);
    return deps.devices.get(request.params.id);
  });
  api.post('/api/v1/devices/:id/revoke', { schema: { tags: ['devices'], params: DeviceParams, response: { 200: Device } } }, async (request) => {
    const { user } = authDevice(request, 'admin', request.params.id);
    return deps.devices.revoke(request.params.id, `user:${user.username}`);
  });
  api.post('/api/v1/devices/:id/approve', { schema: { tags: ['devices'], params: DeviceParams, response: { 200: Device } } }, async (request) => {
    const { user } = authDevice(request, 'admin', request.params.id);
    return deps.devices.approve(request.params.id, `user:${user.username}`);
  });

  // ── registration tokens ──
  api.get('/api/v1/tokens', { schema: { tags: ['tokens'], response: { 200: z.object({ tokens: z.array(RegistrationToken) }) } } }, async (request) => {
    auth(request, 'admin');
    return { tokens: await deps.tokens.list() };
  });
  api.post('/api/v1/tokens', { schema: { tags: ['tokens'], body: TokenCreateRequest, response: { 200: TokenCreateResponse } } }, async (request) => {
    const { user } = auth(request, 'admin');
    const created = await deps.tokens.create(request.body, `user:${user.username}`);
    return { ...created, caPin: deps.caPin, installCommand: installCommand(deps.publicUrl(), created.token, deps.caPin) };
  });
  api.post('/api/v1/tokens/:id/revoke', { schema: { tags: ['tokens'], params: IdParams, response: { 200: RegistrationToken } } }, async (request) => {
    const { user } = auth(request, 'admin');
    return deps.tokens.revoke(request.params.id, `user:${user.username}`);
  });

  registerConfigRoutes(api, { config: deps.config.service, delivery: deps.config.delivery, auth, authDevice, access: deps.access });

  registerMonitoringRoutes(api, { ...deps.monitoring, auth, authDevice, access: deps.access });

  registerShellRoutes(api, { shells: deps.shell.service, auth, authDevice, access: deps.access });
  await registerFileRoutes(api, { files: deps.files.service, authDevice });
  registerJobRoutes(api, { runs: deps.jobs.runs, jobs: deps.jobs.scheduler, auth, authDevice, access: deps.access });
  if (deps.relay) registerRelayRoutes(api, { grants: deps.relay.grants, audit: deps.audit, authDevice });

  // ── agent enrolment (authenticated by the registration token in the body) ──
  const registerLimiter = deps.registerLimiter;
  api.post('/api/v1/agent/register', { schema: { tags: ['agent'], body: RegisterRequest, response: { 200: RegisterResponse } } }, async (request, reply) =>
    registerLimiter.guard(request.ip, () => deps.enrolment.register(request.body)).catch((err: unknown) => {
      if (err instanceof RateLimitedError) void reply.header('retry-after', String(err.retryAfterS));
      throw err;
    }),
  );

  if (existsSync(deps.consoleDir)) {
    // The console build writes .br and .gz copies (renderer/vite.config.ts); a browser that accepts one gets it.
    // `index` as a list: with preCompressed, @fastify/static looks the index up only in a list and answers `/` with 404 otherwise.
    await app.register(fastifyStatic, { root: deps.consoleDir, prefix: '/', index: ['index.html'], wildcard: false, preCompressed: true });
  } else {
    app.get('/', { schema: { hide: true } }, async () => {
      throw new TetherError('NOT_FOUND', 'The console is not built: run `npm run build:console`');
    });
  }
  return app;
}

function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  // An upload streaming to a device has its own idle bound (backend/files/file-service.ts).
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' && hasLongBody(socket)) return;
  // As Node and Fastify do by default (write, then destroy), with our `{code, message}` body.
  if (err.code !== 'ERR_HTTP_REQUEST_TIMEOUT' && socket.writable) {
    const body = JSON.stringify({ code: 'BAD_REQUEST', message: ERRORS.BAD_REQUEST.message });
    socket.write(`HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}

/**
 * The one-line command an admin pastes on a device. install.sh is fetched with -k (the device
 * does not trust the CA yet); everything after it is checked against the pin. README
 * (Deployment) gives a two-step variant that verifies install.sh too.
 */
export function installCommand(publicUrl: string, token: string, caPin: string): string {
  const base = publicUrl.replace(/\/+$/, '');
  return `curl -fsSk ${base}/install.sh | sudo sh -s -- --backend ${base} --token ${token} --ca-pin ${caPin}`;
}
