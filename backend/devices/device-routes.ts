import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { DeviceBulkResponse, DeviceRevokeRequest, DeviceTagsRequest, type Role, type User } from '../../protocol/index.js';
import type { DeviceService } from './device-service.js';

type ZodApi = FastifyInstance<Server, IncomingMessage, ServerResponse, Logger, ZodTypeProvider>;

export interface DeviceRouteDeps {
  devices: DeviceService;
  /** auth plus the user's device scope, for every listed id (NOT_FOUND outside a scope). */
  authDevices(request: FastifyRequest, role: Role, deviceIds: readonly string[]): { user: User };
}

/** 10,000 ids of up to 44 characters with JSON quotes and commas, plus the tags: above the API's 256 KB default. */
const BULK_BODY_LIMIT = 1024 * 1024;

/** Bulk inventory changes from the fleet view. Each request is one transaction: all devices change or none. */
export function registerDeviceRoutes(api: ZodApi, deps: DeviceRouteDeps): void {
  api.post('/api/v1/devices/tags', { bodyLimit: BULK_BODY_LIMIT, schema: { tags: ['devices'], body: DeviceTagsRequest, response: { 200: DeviceBulkResponse } } }, async (request) => {
    const { ids, set, remove } = request.body;
    const { user } = deps.authDevices(request, 'operator', ids);
    return { devices: await deps.devices.editTags(ids, { set, remove }, `user:${user.username}`) };
  });
  api.post('/api/v1/devices/revoke', { bodyLimit: BULK_BODY_LIMIT, schema: { tags: ['devices'], body: DeviceRevokeRequest, response: { 200: DeviceBulkResponse } } }, async (request) => {
    const { user } = deps.authDevices(request, 'admin', request.body.ids);
    return { devices: await deps.devices.revokeMany(request.body.ids, `user:${user.username}`) };
  });
}
