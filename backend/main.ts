import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { pino, type Logger } from 'pino';
import { TetherError, type User } from '../protocol/index.js';
import { ControlGateway } from './agents/control-gateway.js';
import { AuditLog } from './audit/audit-log.js';
import { authenticateRequest } from './auth/request-auth.js';
import { newSecret } from './auth/secrets.js';
import { UserService } from './auth/users.js';
import { certificateHostnames, type BackendConfig } from './config.js';
import { ConsoleHub } from './console/console-hub.js';
import { DeviceRepo } from './devices/device-repo.js';
import { LocalDeviceRouter } from './devices/device-router.js';
import { DeviceService } from './devices/device-service.js';
import { FleetEvents } from './devices/fleet-events.js';
import { Presence } from './devices/presence.js';
import { EnrolmentService } from './enrol/enrolment.js';
import { TokenService } from './enrol/tokens.js';
import { buildHttpApp } from './http/app.js';
import { originAllowed } from './http/origin.js';
import { routeUpgrades, type UpgradeEndpoint } from './http/upgrades.js';
import { loadOrCreatePki } from './pki/store.js';
import { openDatabase } from './store/db.js';
import { MAIN_MIGRATIONS, METRICS_MIGRATIONS } from './store/migrations.js';
import { TelemetryGateway } from './telemetry/telemetry-gateway.js';
import { TelemetryStore } from './telemetry/telemetry-store.js';

export interface RunningBackend {
  url: string;
  /** Set when this start created the first admin with a generated password (print it once). */
  generatedAdminPassword?: string;
  caPin: string;
  users: UserService;
  tokens: TokenService;
  router: LocalDeviceRouter;
  close(): Promise<void>;
}

const PRESENCE_FLUSH_MS = 5_000;

/** The backend's composition root: opens the store and PKI, builds every service, listens. */
export async function startBackend(config: BackendConfig, log: Logger = pino()): Promise<RunningBackend> {
  mkdirSync(config.home, { recursive: true, mode: 0o700 });
  const pki = await loadOrCreatePki(config.home, certificateHostnames(config));
  const db = openDatabase(join(config.home, 'tether.db'), MAIN_MIGRATIONS);
  const metricsDb = openDatabase(join(config.home, 'metrics.db'), METRICS_MIGRATIONS);

  const audit = new AuditLog(db);
  const users = new UserService(db);
  const firstAdmin = await ensureFirstAdmin(users, config.adminPassword);
  const tokens = new TokenService(db);
  const events = new FleetEvents();
  const repo = new DeviceRepo(db);
  const presence = new Presence(repo, events);
  const router = new LocalDeviceRouter();
  const control = new ControlGateway({ identity: pki.identity, caCertPem: pki.ca.certPem, devices: repo, presence, router, log, limits: config.control });
  const telemetry = new TelemetryGateway({ devices: repo, presence, store: new TelemetryStore(metricsDb), log });
  const devices = new DeviceService({ repo, presence, events, audit, connections: [router, telemetry] });
  const enrolment = new EnrolmentService({ db, tokens, devices: repo, presence, events, audit, ca: pki.ca });
  const hub = new ConsoleHub({ events, router, log });

  let publicUrl = config.publicUrl ?? '';
  let ready = false;
  const app = await buildHttpApp({
    // The chain (leaf + CA) lets agents find the CA to check against their pin.
    tls: { key: pki.server.keyPem, cert: pki.server.certPem + pki.ca.certPem },
    log, users, tokens, enrolment, devices, audit, caPin: pki.caPin,
    publicUrl: () => publicUrl, consoleDir: config.consoleDir, ready: () => ready,
  });

  const allowedOrigins = new Set<string>();
  const endpoints: Array<UpgradeEndpoint<never>> = [
    { path: '/v1/agent/control', maxPayload: control.maxPayload, authenticate: () => undefined as never, accept: (ws, _auth, request) => control.accept(ws, request) },
    { path: '/v1/agent/telemetry', maxPayload: telemetry.maxPayload, authenticate: (request) => telemetry.authenticate(request) as never, accept: (ws, deviceId: string) => telemetry.accept(ws, deviceId) },
    {
      path: '/api/v1/console',
      maxPayload: hub.maxPayload,
      authenticate: (request) => {
        if (!originAllowed(request, allowedOrigins)) throw new TetherError('ORIGIN_REFUSED');
        return authenticateRequest(users, request.headers).user as never;
      },
      accept: (ws, user: User) => hub.accept(ws, user),
    },
  ];
  const upgrades = routeUpgrades(app.server as Server, endpoints as Array<UpgradeEndpoint<unknown>>);
  const flushTimer = setInterval(() => presence.flush(), PRESENCE_FLUSH_MS);
  flushTimer.unref();

  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const hostForUrl = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `https://${hostForUrl}:${port}`;
  if (!publicUrl) publicUrl = url;
  allowedOrigins.add(new URL(publicUrl).origin);
  ready = true;
  writeFileSync(join(config.home, 'backend.json'), `${JSON.stringify({ publicUrl, caPin: pki.caPin }, null, 2)}\n`);
  log.info({ url, publicUrl, caPin: pki.caPin, home: config.home }, 'listening');

  let closing: Promise<void> | null = null;
  return {
    url, caPin: pki.caPin, users, tokens, router, generatedAdminPassword: firstAdmin.generatedPassword,
    close: () =>
      (closing ??= (async () => {
        ready = false;
        clearInterval(flushTimer);
        control.close();
        telemetry.close();
        hub.close();
        upgrades.close();
        await app.close();
        presence.flush();
        db.close();
        metricsDb.close();
      })()),
  };
}

/** Creates the first admin when there is no user yet; returns the password when it was generated. */
export async function ensureFirstAdmin(users: UserService, password: string | undefined): Promise<{ created: boolean; generatedPassword?: string }> {
  if (users.count() > 0) return { created: false };
  const generated = password ? undefined : newSecret().slice(0, 20);
  await users.add('admin', password ?? generated ?? '', 'admin');
  return { created: true, generatedPassword: generated };
}
