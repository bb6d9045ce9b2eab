import { createReadStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { z } from 'zod';
import { DeviceId, ShellSessionList, type Role, type User } from '../../protocol/index.js';
import type { DeviceAccess } from '../auth/device-access.js';
import type { ShellService } from './shell-service.js';

type ZodApi = FastifyInstance<Server, IncomingMessage, ServerResponse, Logger, ZodTypeProvider>;

export interface ShellRouteDeps {
  shells: ShellService;
  auth(request: FastifyRequest, role?: Role): { user: User };
  /** auth plus the device's existence and the user's scope. */
  authDevice(request: FastifyRequest, role: Role, deviceId: string): { user: User };
  access: DeviceAccess;
}

const SessionParams = z.object({ id: z.string().uuid() });
const ListQuery = z.object({ deviceId: DeviceId.optional(), limit: z.coerce.number().int().min(1).max(1000).default(100) });

/**
 * Shell session history and recordings. Recordings hold everything a terminal showed, so only
 * operators and admins may list or download them. The terminals themselves are WebSockets
 * on `/api/v1/shell` (see backend/main.ts).
 */
export function registerShellRoutes(api: ZodApi, deps: ShellRouteDeps): void {
  api.get('/api/v1/shell/sessions', { schema: { tags: ['shell'], querystring: ListQuery, response: { 200: ShellSessionList } } }, async (request) => {
    const { user } = request.query.deviceId ? deps.authDevice(request, 'operator', request.query.deviceId) : deps.auth(request, 'operator');
    return { sessions: deps.access.filter(user, await deps.shells.list(request.query), (s) => s.deviceId) };
  });

  api.get('/api/v1/shell/sessions/:id/recording', { schema: { tags: ['shell'], params: SessionParams } }, async (request, reply) => {
    const { user } = deps.auth(request, 'operator');
    const { sessionId, path } = await deps.shells.recording(request.params.id, `user:${user.username}`, (deviceId) => deps.access.sees(user, deviceId));
    reply.header('content-type', 'application/x-asciicast');
    reply.header('content-disposition', `attachment; filename="${sessionId}.cast"`);
    return reply.send(createReadStream(path));
  });
}
