import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from 'node:http';
import type { Server as TlsServer } from 'node:tls';
import { pino, type Logger } from 'pino';
import { DeviceId, ForwardSocketQuery, ShellSocketQuery, TetherError, type ErrorCode, type User } from '../protocol/index.js';
import { ControlGateway, DEFAULT_CONTROL_LIMITS } from './agents/control-gateway.js';
import { AuditLog } from './audit/audit-log.js';
import { AuditQueryService } from './audit/audit-query.js';
import { DeviceAccess } from './auth/device-access.js';
import { DEFAULT_LOGIN_LIMITS, LoginThrottle } from './auth/login-throttle.js';
import { memoryLimiters } from './auth/rate-limiters.js';
import { authenticateRequest, requireRole } from './auth/request-auth.js';
import { newSecret } from './auth/secrets.js';
import { UserService } from './auth/users.js';
import { certificateHostnames, type BackendConfig } from './config.js';
import { ConfigDelivery } from './config/config-delivery.js';
import { ConfigService } from './config/config-service.js';
import { SchemaValidator } from './config/schema-validator.js';
import { ConsoleHub } from './console/console-hub.js';
import { DeviceDirectory } from './devices/device-directory.js';
import { LocalDeviceRouter, type DeviceRouter, type LinkRegistry } from './devices/device-router.js';
import { DeviceService } from './devices/device-service.js';
import { FleetEvents } from './devices/fleet-events.js';
import { Presence } from './devices/presence.js';
import { EnrolmentService } from './enrol/enrolment.js';
import { TokenService } from './enrol/tokens.js';
import { DEFAULT_REGISTER_LIMITS, RegisterLimiter } from './enrol/register-limiter.js';
import { buildHttpApp } from './http/app.js';
import { originAllowed } from './http/origin.js';
import { routeUpgrades, type UpgradeEndpoint } from './http/upgrades.js';
import { acceptProxyProtocol, trustedProxies } from './http/proxy-protocol.js';
import { loadOrCreatePki } from './pki/store.js';
import { JobScheduler } from './jobs/job-scheduler.js';
import { ForwardService } from './forward/forward-service.js';
import { acceptForwardSocket, FORWARD_SOCKET_MAX_PAYLOAD } from './forward/forward-socket.js';
import { RelayGrants } from './relay/relay-grants.js';
import { routeRelay, WebRelay } from './relay/web-relay.js';
import { RunService } from './jobs/run-service.js';
import { SHELL_SOCKET_MAX_PAYLOAD, ShellService } from './shell/shell-service.js';
import { FileService } from './files/file-service.js';
import { openMetricEngine } from './store/open-metric-engine.js';
import { openStore } from './store/open-store.js';
import { AdvisoryLease, STARTUP_LOCK, withAdvisoryLock } from './store/postgres/advisory-lease.js';
import type { PostgresStore } from './store/postgres/pool.js';
import { postgresLimiters } from './store/postgres/rate-limits.js';
import { startClusterNode, type ClusterNode } from './cluster/cluster-node.js';
import { SOLE_LEADER, type LeaderLease } from './cluster/leader-lease.js';
import { OrphanSweeper } from './cluster/orphan-sweeper.js';
import { shareTicketKeys } from './http/ticket-keys.js';
import { StoreHealth } from './store/store-health.js';
import { TelemetryGateway, type TelemetryAdmission } from './telemetry/telemetry-gateway.js';
import { startMonitoring } from './metrics/monitoring.js';
import { createBackendMetrics } from './ops/backend-metrics.js';
import { writePidFile } from './ops/pid-file.js';
import { DEFAULT_AGENT_DIST_DIR } from './ops/install-routes.js';

export interface RunningBackend {
  url: string;
  /** Set when this start created the first admin with a generated password (print it once). */
  generatedAdminPassword?: string;
  caPin: string;
  users: UserService;
  tokens: TokenService;
  router: DeviceRouter;
  close(): Promise<void>;
}

// Online devices are live in memory; their last-seen only needs to reach disk for a crash, so it is written rarely.
const PRESENCE_FLUSH_MS = 60_000;

/** The backend's composition root: opens the store and PKI, builds every service, listens. */
export async function startBackend(config: BackendConfig, log: Logger = pino()): Promise<RunningBackend> {
  // Checked before anything is opened: a typo must not start a node that refuses HAProxy's connections.
  const trustedProxyList = config.proxyProtocolFrom === undefined ? undefined : trustedProxies(config.proxyProtocolFrom);
  mkdirSync(config.home, { recursive: true, mode: 0o700 });
  const pki = await loadOrCreatePki(config.home, certificateHostnames(config));
  // A cluster shares one database: checked before anything is opened.
  if (config.cluster && !config.databaseUrl) throw new TetherError('CLUSTER_NEEDS_POSTGRES');
  const store = await openStore({ home: config.home, databaseUrl: config.databaseUrl });
  const { stores } = store;

  const audit = new AuditLog(stores);
  const users = new UserService(stores, audit);
  const firstAdmin = await ensureFirstAdmin(users, config.adminPassword);
  const tokens = new TokenService(stores, audit);
  const events = new FleetEvents();
  // Names and tags for per-message and per-request checks, kept current by fleet events.
  const directory = await DeviceDirectory.load(stores.devices, events);
  const presence = new Presence(stores.devices, events);
  // Jobs and alerts select from the whole fleet synchronously: from memory, not a store read each time.
  const fleet = () => Array.from(directory.values(), (device) => presence.view(device));
  const localRouter = new LocalDeviceRouter();
  // A revocation from any node also closes this node's handshakes and telemetry sockets of the device (set once they exist).
  let closeOtherConnections: (deviceId: string, code: ErrorCode) => void = () => undefined;
  // A cluster node reaches other nodes' devices over NATS (backend/cluster/, docs/cluster.md).
  let cluster: ClusterNode | null = null;
  let lease: LeaderLease = SOLE_LEADER;
  if (config.cluster) {
    try {
      cluster = await startClusterNode({
        config: config.cluster, local: localRouter, presence, events, log,
        defaultRequestTimeoutMs: config.control?.requestTimeoutMs ?? DEFAULT_CONTROL_LIMITS.requestTimeoutMs,
        onDisconnect: (id, code) => closeOtherConnections(id, code),
      });
      const advisory = new AdvisoryLease({ url: config.databaseUrl ?? '', log });
      await advisory.start();
      lease = advisory;
    } catch (err) {
      await cluster?.close();
      await store.close();
      throw err;
    }
  }
  const router: DeviceRouter & LinkRegistry = cluster?.router ?? localRouter;
  // Gauges read the services below at scrape time, after all of them exist.
  const opsMetrics = createBackendMetrics({
    // This node's channels (like the other gauges): summing the nodes' scrapes gives the cluster's.
    connectedAgents: () => localRouter.connectedCount(),
    telemetrySockets: () => telemetry.socketCount,
    openShells: () => shells.openCount,
    openFileTransfers: () => files.openCount,
    openForwards: () => forwards.openCount,
    ingest: () => ({ ...monitoring.ingest.stats, queued: monitoring.ingest.queued }),
  });
  const control = new ControlGateway({ identity: pki.identity, caCertPem: pki.ca.certPem, devices: stores.devices, onFacts: (id, facts): Promise<void> => devices.recordFacts(id, facts), presence, router, log, limits: config.control, counters: opsMetrics.counters });
  const storeHealth = new StoreHealth();
  const monitoring = await startMonitoring({ engine: openMetricEngine(store), stores: store.monitoring, audit, devices: fleet, log, config: config.monitoring, health: storeHealth, leads: () => lease.isLeader });
  // A console on any node follows the whole fleet's live metrics, logs and alerts.
  cluster?.relayMonitoring(monitoring.live);
  const telemetry = new TelemetryGateway({ devices: stores.devices, presence, ingest: monitoring.ingest, log, counters: opsMetrics.counters });
  // On a cluster the router broadcasts the disconnect, and each node closes its handshakes and telemetry sockets too.
  closeOtherConnections = (id, code) => {
    control.disconnect(id, code);
    telemetry.disconnect(id, code);
  };
  const devices = new DeviceService({ stores, presence, events, audit, connections: cluster ? [router] : [router, control, telemetry] });
  const enrolment = new EnrolmentService({ stores, tokens, presence, events, audit, ca: pki.ca });
  const access = new DeviceAccess(directory);
  const hub = new ConsoleHub({ events, router, log, monitoring: monitoring.live, access });
  // On a cluster each node reconciles and pushes the configuration of the devices it holds.
  const configDelivery = new ConfigDelivery({ store: stores.config, devices: directory, router, log, delivers: cluster ? (id) => localRouter.isConnected(id) : undefined });
  const configService = await ConfigService.create({
    stores, validator: new SchemaValidator(), audit, deviceExists: (id) => directory.has(id),
    onChange: () => {
      configDelivery.refreshAll();
      cluster?.signals.send({ name: 'config.changed' });
    },
  });
  const stopConfigSignal = cluster?.signals.on('config.changed', () => configDelivery.refreshAll());
  const unsubscribeConfig = events.subscribe((event) => configDelivery.onFleetEvent(event));
  // Finishes a change whose sliced delivery a crash cut short, for devices that stay offline too.
  configDelivery.refreshAll();

  // A node joining a live cluster must not end the sessions and runs the other nodes have open:
  // leftovers are ended only on a cold start (no other node alive), decided one node at a time.
  const startup = await enterStartup(cluster, store.postgres?.pool, log);
  // On a cluster, what this process runs carries its instance, so the leader can end it should the process die.
  const owner = cluster?.nodes.instance;
  const shells = new ShellService({
    router, stores, audit, recordingsDir: join(config.home, 'recordings'), log, limits: config.shell, endOrphans: startup.endOrphans, owner,
    onAdopted: cluster ? (sessionId) => cluster?.signals.send({ name: 'shell.adopted', sessionId }) : undefined,
  });
  const stopShellSignal = cluster?.signals.on('shell.adopted', (signal) => shells.release(signal.sessionId));
  const forwards = new ForwardService({ router, audit, log });
  const relayGrants = new RelayGrants();
  // Ending a user's sessions also ends the sockets they opened with them.
  users.onSessionsEnded((userId) => {
    hub.closeUser(userId);
    shells.endUser(userId);
    forwards.endUser(userId);
  });
  // On a cluster, a log-out, role change or deletion made on one node takes effect on every node.
  const stopSessionSignals = cluster ? [
    users.onSessionsChanged((userId) => cluster?.signals.send({ name: 'sessions.changed', userId })),
    cluster.signals.on('sessions.changed', (signal) => users.forgetSessions(signal.userId)),
  ] : [];
  // On a cluster, a cancel made on one node stops the command on the node running it.
  const runs = new RunService({ router, stores, audit, log, owner, onCancelledElsewhere: cluster ? (runId) => cluster?.signals.send({ name: 'run.cancelled', runId }) : undefined });
  const stopRunSignal = cluster?.signals.on('run.cancelled', (signal) => runs.cancelledElsewhere(signal.runId));
  const files = new FileService({ router, audit, log });
  const jobs = new JobScheduler({ stores, runs, router, events, audit, devices: fleet, log, endOrphans: startup.endOrphans, owner });
  const orphans = cluster ? new OrphanSweeper({ stores, aliveInstances: () => cluster.nodes.aliveInstances(), leads: () => lease.isLeader, log }) : null;
  // Sessions, runs and jobs the previous process left open are ended before anything new starts.
  await Promise.all([shells.ready, jobs.ready]).finally(() => startup.release());
  orphans?.start();

  // Login and enrolment counters: shared by every node on PostgreSQL, in memory on SQLite.
  const limiters = store.postgres ? postgresLimiters(store.postgres.pool) : memoryLimiters;
  let publicUrl = config.publicUrl ?? '';
  let ready = false;
  const allowedOrigins = new Set<string>();
  const app = await buildHttpApp({
    // The chain (leaf + CA) lets agents find the CA to check against their pin.
    tls: { key: pki.server.keyPem, cert: pki.server.certPem + pki.ca.certPem },
    log, users, tokens, enrolment, devices, audit, caPin: pki.caPin,
    access, loginThrottle: new LoginThrottle(DEFAULT_LOGIN_LIMITS, limiters), registerLimiter: new RegisterLimiter(DEFAULT_REGISTER_LIMITS, limiters), auditQuery: new AuditQueryService(stores.audit, audit),
    publicUrl: () => publicUrl, consoleDir: config.consoleDir, ready: () => ready, storeHealth, busHealth: cluster?.health,
    config: { service: configService, delivery: configDelivery },
    monitoring,
    shell: { service: shells },
    files: { service: files },
    jobs: { runs, scheduler: jobs },
    metrics: opsMetrics,
    install: { caCertPem: pki.ca.certPem, agentDistDir: config.agentDistDir ?? DEFAULT_AGENT_DIST_DIR },
    allowedOrigins,
    relay: { grants: relayGrants },
  });

  const endpoints: Array<UpgradeEndpoint<never>> = [
    { path: '/v1/agent/control', maxPayload: control.maxPayload, authenticate: () => undefined as never, accept: (ws, _auth, request) => control.accept(ws, request) },
    { path: '/v1/agent/telemetry', maxPayload: telemetry.maxPayload, authenticate: (request) => telemetry.authenticate(request) as never, accept: (ws, admission: TelemetryAdmission) => telemetry.accept(ws, admission) },
    {
      path: '/api/v1/console',
      maxPayload: hub.maxPayload,
      authenticate: async (request) => {
        if (!originAllowed(request, allowedOrigins)) throw new TetherError('ORIGIN_REFUSED');
        return (await authenticateRequest(users, request.headers)).user as never;
      },
      accept: (ws, user: User) => hub.accept(ws, user),
    },
    {
      path: '/api/v1/shell',
      maxPayload: SHELL_SOCKET_MAX_PAYLOAD,
      authenticate: async (request) => {
        if (!originAllowed(request, allowedOrigins)) throw new TetherError('ORIGIN_REFUSED');
        const { user } = await authenticateRequest(users, request.headers);
        requireRole(user, 'operator');
        const query = ShellSocketQuery.safeParse(Object.fromEntries(new URL(request.url ?? '/', 'https://tether.invalid').searchParams));
        if (!query.success) throw new TetherError('BAD_REQUEST', 'A shell needs ?deviceId=&cols=&rows= or ?sessionId=');
        if ('deviceId' in query.data) access.require(user, query.data.deviceId);
        await shells.check(user, query.data);
        return { user, query: query.data } as never;
      },
      accept: (ws, auth: { user: User; query: ShellSocketQuery }) => shells.accept(ws, auth.user, auth.query),
    },
    {
      // One TCP connection to host:port on the device per socket (docs/forwarding.md).
      path: '/api/v1/forward',
      maxPayload: FORWARD_SOCKET_MAX_PAYLOAD,
      authenticate: async (request) => {
        if (!originAllowed(request, allowedOrigins)) throw new TetherError('ORIGIN_REFUSED');
        const { user } = await authenticateRequest(users, request.headers);
        requireRole(user, 'operator');
        const params = Object.fromEntries(new URL(request.url ?? '/', 'https://tether.invalid').searchParams);
        const deviceId = DeviceId.safeParse(params.deviceId);
        const target = ForwardSocketQuery.safeParse(params);
        if (!deviceId.success || !target.success) throw new TetherError('BAD_REQUEST', 'A forward needs ?deviceId=&port=[&host=]');
        access.require(user, deviceId.data);
        forwards.check(user, deviceId.data);
        return { user, deviceId: deviceId.data, target: target.data } as never;
      },
      accept: (ws, auth: { user: User; deviceId: string; target: ForwardSocketQuery }) => acceptForwardSocket(ws, forwards, auth.user, auth.deviceId, auth.target, log),
    },
  ];
  const upgrades = routeUpgrades(app.server as Server, endpoints as Array<UpgradeEndpoint<unknown>>);
  routeRelay(app.server as Server, new WebRelay({ forwards, grants: relayGrants, users, access, log }));
  // A failed flush keeps its entries for the next one.
  const flushTimer = setInterval(() => presence.flush().catch((err: unknown) => log.warn({ err }, 'last-seen times not written; kept for the next flush')), PRESENCE_FLUSH_MS);
  flushTimer.unref();

  // Before TLS: behind HAProxy (send-proxy-v2) the client's address is what the app sees.
  if (trustedProxyList) acceptProxyProtocol(app.server as TlsServer, { trusted: trustedProxyList, log });
  // Agents resume their TLS sessions on any node of the cluster, and across a restart.
  const stopTicketKeys = shareTicketKeys(app.server as TlsServer, pki.ca.keyPem);
  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const hostForUrl = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `https://${hostForUrl}:${port}`;
  if (!publicUrl) publicUrl = url;
  allowedOrigins.add(new URL(publicUrl).origin);
  ready = true;
  const removePidFile = writePidFile(config.home);
  writeFileSync(join(config.home, 'backend.json'), `${JSON.stringify({ publicUrl, caPin: pki.caPin }, null, 2)}\n`);
  log.info({ url, publicUrl, caPin: pki.caPin, home: config.home, ...(config.proxyProtocolFrom !== undefined && { proxyProtocolFrom: config.proxyProtocolFrom }) }, 'listening');

  let closing: Promise<void> | null = null;
  return {
    url, caPin: pki.caPin, users, tokens, router, generatedAdminPassword: firstAdmin.generatedPassword,
    close: () =>
      (closing ??= (async () => {
        ready = false;
        clearInterval(flushTimer);
        stopTicketKeys();
        unsubscribeConfig();
        stopConfigSignal?.();
        for (const stop of stopSessionSignals) stop();
        stopRunSignal?.();
        stopShellSignal?.();
        directory.close();
        await configDelivery.close();
        control.close();
        telemetry.close();
        hub.close();
        files.close();
        // Started together: the jobs wait for their runs, which the run service ends.
        await orphans?.stop();
        await Promise.all([shells.close(), jobs.close(), runs.close(), forwards.close()]);
        upgrades.close();
        await app.close();
        await monitoring.close();
        // After the links closed: their presence entries are released before the bus drains.
        await cluster?.close();
        await lease.close();
        await presence.flush().catch((err: unknown) => log.warn({ err }, 'last-seen times not written at shutdown'));
        await store.close();
        opsMetrics.close();
        removePidFile();
      })()),
  };
}

/** Creates the first admin when there is no user yet; returns the password when it was generated. */
export async function ensureFirstAdmin(users: UserService, password: string | undefined): Promise<{ created: boolean; generatedPassword?: string }> {
  if ((await users.count()) > 0) return { created: false };
  const generated = password ? undefined : newSecret().slice(0, 20);
  try {
    await users.add('admin', password ?? generated ?? '', 'admin', null, 'system');
  } catch (err) {
    // Another node sharing the PostgreSQL database created it first.
    if (err instanceof TetherError && err.code === 'CONFLICT') return { created: false };
    throw err;
  }
  return { created: true, generatedPassword: generated };
}

/**
 * Before the shell and job services start: whether they end the sessions and runs the store has
 * open. Alone, always (the previous process's). On a cluster, only when no other node is alive
 * (a cold start); under a PostgreSQL lock, so nodes starting together decide one at a time and a
 * node's clean-up never overlaps another's first sessions. `release` after the clean-up is done.
 */
async function enterStartup(cluster: ClusterNode | null, pool: PostgresStore['pool'] | undefined, log: Logger): Promise<{ endOrphans: boolean; release(): void }> {
  if (!cluster || !pool) return { endOrphans: true, release: () => undefined };
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  let decided: (endOrphans: boolean) => void = () => undefined;
  const decision = new Promise<boolean>((resolve) => (decided = resolve));
  const held = withAdvisoryLock(pool, STARTUP_LOCK, async () => {
    const others = await cluster.nodes.othersAlive();
    if (others.length > 0) log.info({ others }, 'joining live nodes: their sessions and runs are left alone');
    decided(others.length === 0);
    await released;
  });
  held.catch((err: unknown) => log.warn({ err }, 'start-up lock not released cleanly'));
  return { endOrphans: await Promise.race([decision, held.then(() => false)]), release };
}
