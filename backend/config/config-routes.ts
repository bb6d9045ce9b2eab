import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  ConfigDiff,
  ConfigFleetStatus,
  ConfigHistory,
  ConfigLayer,
  ConfigLayerList,
  ConfigLayerWrite,
  ConfigRevision,
  ConfigRollbackRequest,
  ConfigSchemaEntry,
  ConfigSchemaList,
  ConfigSchemaWrite,
  ConfigValidateRequest,
  ConfigValidateResponse,
  ConfigValues,
  DeviceId,
  EffectiveConfig,
  TetherError,
  type Role,
  type User,
} from '../../protocol/index.js';
import type { DeviceAccess } from '../auth/device-access.js';
import type { ConfigDelivery } from './config-delivery.js';
import type { ConfigService } from './config-service.js';

/** The zod-typed Fastify instance app.ts builds (its HTTPS server type included). */
export type ZodApi = FastifyInstance<Server, IncomingMessage, ServerResponse, Logger, ZodTypeProvider>;

export interface ConfigRouteDeps {
  config: ConfigService;
  delivery: ConfigDelivery;
  auth(request: FastifyRequest, role?: Role): { user: User };
  /** auth plus the device's existence and the user's scope. */
  authDevice(request: FastifyRequest, role: Role, deviceId: string): { user: User };
  access: DeviceAccess;
}

const LayerParams = z.object({ id: z.string().max(128) });
const Version = z.coerce.number().int().nonnegative();
// Values are checked by ConfigService (depth first, then shape and schema) so that they get the CONFIG_* codes.
const LayerWriteBody = ConfigLayerWrite.extend({ values: z.unknown() });
const SchemaWriteBody = ConfigSchemaWrite.extend({ schema: z.unknown() });

/**
 * Remote configuration API. Reading needs a viewer, editing layers an operator, and schemas an
 * admin. Every write names the version it started from (`expectedVersion`).
 */
export function registerConfigRoutes(api: ZodApi, deps: ConfigRouteDeps): void {
  /**
   * A scoped user reaches device layers of devices in scope only; fleet and group layers touch
   * devices outside any scope, so a scoped user may read but not change them.
   */
  const authLayer = (request: FastifyRequest, role: Role, layerId: string, write: boolean) => {
    const device = /^device:(.+)$/.exec(layerId)?.[1];
    if (device !== undefined) return deps.authDevice(request, role, device);
    const session = deps.auth(request, role);
    if (write && session.user.scope) throw new TetherError('FORBIDDEN', 'A user scoped to some devices may change only their device layers');
    return session;
  };
  const actor = (request: FastifyRequest, role: Role, layerId: string) => `user:${authLayer(request, role, layerId, true).user.username}`;
  const layerVisible = (user: User, layerId: string) => {
    const device = /^device:(.+)$/.exec(layerId)?.[1];
    return device === undefined || !user.scope || deps.access.sees(user, device);
  };
  const tags = ['config'];

  api.get('/api/v1/config/layers', { schema: { tags, response: { 200: ConfigLayerList } } }, async (request) => {
    const { user } = deps.auth(request);
    return { layers: (await deps.config.layers()).filter((l) => layerVisible(user, l.id)) };
  });
  api.get('/api/v1/config/layers/:id', { schema: { tags, params: LayerParams, response: { 200: ConfigLayer } } }, async (request) => {
    authLayer(request, 'viewer', request.params.id, false);
    return deps.config.layer(request.params.id);
  });
  api.put('/api/v1/config/layers/:id', { schema: { tags, params: LayerParams, body: LayerWriteBody, response: { 200: ConfigLayer } } }, async (request) =>
    deps.config.putLayer(request.params.id, request.body, actor(request, 'operator', request.params.id)),
  );
  api.delete('/api/v1/config/layers/:id', {
    schema: { tags, params: LayerParams, querystring: z.object({ expectedVersion: Version, message: z.string().max(1024).optional() }), response: { 200: z.object({ version: z.number() }) } },
  }, async (request) => deps.config.deleteLayer(request.params.id, request.query.expectedVersion, actor(request, 'operator', request.params.id), request.query.message));
  api.post('/api/v1/config/layers/:id/rollback', { schema: { tags, params: LayerParams, body: ConfigRollbackRequest, response: { 200: z.object({ layer: ConfigLayer.nullable() }) } } }, async (request) => ({
    layer: await deps.config.rollback(request.params.id, request.body, actor(request, 'operator', request.params.id)),
  }));
  api.post('/api/v1/config/validate', { schema: { tags, body: ConfigValidateRequest, response: { 200: ConfigValidateResponse } } }, async (request) => {
    authLayer(request, 'viewer', request.body.layerId, false);
    const result = await deps.config.validate(request.body.layerId, request.body.values);
    const deviceId = request.body.previewDeviceId;
    if (!result.ok || deviceId === undefined) return result;
    deps.authDevice(request, 'viewer', deviceId);
    return { ...result, effective: await deps.delivery.preview(deviceId, request.body.layerId, ConfigValues.parse(request.body.values)) };
  });

  api.get('/api/v1/config/history', {
    schema: { tags, querystring: z.object({ target: z.string().max(128).optional(), limit: z.coerce.number().int().positive().max(500).optional(), before: Version.optional() }), response: { 200: ConfigHistory } },
  }, async (request) => {
    const { user } = request.query.target ? authLayer(request, 'viewer', request.query.target, false) : deps.auth(request);
    const history = await deps.config.history(request.query);
    return { revisions: history.revisions.filter((r) => layerVisible(user, r.target)) };
  });
  api.get('/api/v1/config/revisions/:version', { schema: { tags, params: z.object({ version: Version }), response: { 200: ConfigRevision } } }, async (request) => {
    const { user } = deps.auth(request);
    const revision = await deps.config.revision(request.params.version);
    if (!layerVisible(user, revision.target)) throw new TetherError('NOT_FOUND', `No config revision ${request.params.version}`);
    return revision;
  });
  api.get('/api/v1/config/diff', { schema: { tags, querystring: z.object({ target: z.string().max(128), from: Version, to: Version }), response: { 200: ConfigDiff } } }, async (request) => {
    authLayer(request, 'viewer', request.query.target, false);
    return deps.config.diff(request.query.target, request.query.from, request.query.to);
  });

  api.get('/api/v1/config/schemas', { schema: { tags, response: { 200: ConfigSchemaList } } }, async (request) => {
    deps.auth(request);
    return { schemas: await deps.config.schemas() };
  });
  api.put('/api/v1/config/schemas/:namespace', { schema: { tags, params: z.object({ namespace: z.string().max(64) }), body: SchemaWriteBody, response: { 200: ConfigSchemaEntry } } }, async (request) =>
    deps.config.putSchema(request.params.namespace, request.body, `user:${authLayer(request, 'admin', 'fleet', true).user.username}`),
  );

  api.get('/api/v1/config/status', { schema: { tags, response: { 200: ConfigFleetStatus } } }, async (request) => {
    const { user } = deps.auth(request);
    const status = await deps.delivery.fleetStatus();
    return { devices: deps.access.filter(user, status.devices, (d) => d.deviceId) };
  });
  api.get('/api/v1/config/devices/:id/effective', { schema: { tags, params: z.object({ id: DeviceId }), response: { 200: EffectiveConfig } } }, async (request) => {
    deps.authDevice(request, 'viewer', request.params.id);
    return deps.delivery.effective(request.params.id);
  });
}
