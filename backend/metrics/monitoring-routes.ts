import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { z } from 'zod';
import {
  AlertEvent,
  AlertRule,
  AlertRuleInput,
  DeviceId,
  FleetLatest,
  LogSearchQuery,
  LogSearchResult,
  MetricNames,
  MetricsQuery,
  MetricsQueryResult,
  type Role,
  type User,
} from '../../protocol/index.js';
import type { AlertService } from '../alerts/alert-service.js';
import type { DeviceAccess } from '../auth/device-access.js';
import type { LogSearch } from '../logs/log-search.js';
import type { LatestValues } from './latest-values.js';
import type { MetricsQueryService } from './metrics-query.js';

/** The zod-typed Fastify instance app.ts builds. */
type Api = FastifyInstance<Server, IncomingMessage, ServerResponse, Logger, ZodTypeProvider>;

export interface MonitoringRouteDeps {
  auth: (request: FastifyRequest, role?: Role) => { user: User };
  metrics: MetricsQueryService;
  latest: LatestValues;
  logs: LogSearch;
  alerts: AlertService;
  /** auth plus the device's existence and the user's scope. */
  authDevice: (request: FastifyRequest, role: Role, deviceId: string) => { user: User };
  access: DeviceAccess;
}

const DeviceParams = z.object({ id: DeviceId });
const RuleParams = z.object({ id: z.coerce.number().int().positive() });
const LatestQuery = z.object({ names: z.string().max(4096).optional() });
const EventsQuery = z.object({ limit: z.coerce.number().int().positive().max(1000).default(200), deviceId: DeviceId.optional() });

/** Metrics, logs and alerts under /api/v1 (viewer reads, operator changes alert rules). */
export function registerMonitoringRoutes(api: Api, deps: MonitoringRouteDeps): void {
  api.get('/api/v1/metrics/devices/:id', { schema: { tags: ['metrics'], params: DeviceParams, querystring: MetricsQuery, response: { 200: MetricsQueryResult } } }, async (request) => {
    deps.authDevice(request, 'viewer', request.params.id);
    return deps.metrics.query(request.params.id, request.query);
  });
  api.get('/api/v1/metrics/devices/:id/names', { schema: { tags: ['metrics'], params: DeviceParams, response: { 200: MetricNames } } }, async (request) => {
    deps.authDevice(request, 'viewer', request.params.id);
    return { names: deps.latest.names(request.params.id) };
  });
  api.get('/api/v1/metrics/latest', { schema: { tags: ['metrics'], querystring: LatestQuery, response: { 200: FleetLatest } } }, async (request) => {
    const { user } = deps.auth(request);
    const names = request.query.names?.split(',').filter(Boolean);
    const devices = deps.latest.snapshot(names && names.length > 0 ? names : undefined);
    return { devices: user.scope ? Object.fromEntries(Object.entries(devices).filter(([id]) => deps.access.sees(user, id))) : devices };
  });

  api.get('/api/v1/logs', { schema: { tags: ['logs'], querystring: LogSearchQuery, response: { 200: LogSearchResult } } }, async (request) => {
    const { user } = request.query.deviceId ? deps.authDevice(request, 'viewer', request.query.deviceId) : deps.auth(request);
    // A scoped user's fleet-wide search may come back short of `limit`; narrowing it in SQL would need the scope's device ids.
    return { lines: deps.access.filter(user, await deps.logs.search(request.query), (l) => l.deviceId) };
  });

  api.get('/api/v1/alerts/rules', { schema: { tags: ['alerts'], response: { 200: z.object({ rules: z.array(AlertRule) }) } } }, async (request) => {
    deps.auth(request);
    return { rules: await deps.alerts.listRules() };
  });
  api.post('/api/v1/alerts/rules', { schema: { tags: ['alerts'], body: AlertRuleInput, response: { 200: AlertRule } } }, async (request) => {
    const { user } = deps.auth(request, 'operator');
    return deps.alerts.createRule(request.body, `user:${user.username}`);
  });
  api.delete('/api/v1/alerts/rules/:id', { schema: { tags: ['alerts'], params: RuleParams } }, async (request, reply) => {
    const { user } = deps.auth(request, 'operator');
    await deps.alerts.deleteRule(request.params.id, `user:${user.username}`);
    return reply.status(204).send();
  });
  api.get('/api/v1/alerts/events', { schema: { tags: ['alerts'], querystring: EventsQuery, response: { 200: z.object({ events: z.array(AlertEvent) }) } } }, async (request) => {
    const { user } = request.query.deviceId ? deps.authDevice(request, 'viewer', request.query.deviceId) : deps.auth(request);
    return { events: deps.access.filter(user, await deps.alerts.listEvents(request.query.limit, request.query.deviceId), (e) => e.deviceId) };
  });
  api.get('/api/v1/alerts/active', { schema: { tags: ['alerts'], response: { 200: z.object({ events: z.array(AlertEvent) }) } } }, async (request) => {
    const { user } = deps.auth(request);
    return { events: deps.access.filter(user, await deps.alerts.active(), (e) => e.deviceId) };
  });
}
