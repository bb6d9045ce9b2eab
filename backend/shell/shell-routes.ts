import { createReadStream, existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { z } from 'zod';
import { DeviceId, ShellSessionList, TetherError, type Role, type User } from '../../protocol/index.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { DeviceAccess } from '../auth/device-access.js';
import type { ShellRepo } from './shell-repo.js';
import type { ShellService } from './shell-service.js';

type ZodApi = FastifyInstance<Server, IncomingMessage, ServerResponse, Logger, ZodTypeProvider>;

export interface ShellRouteDeps {
  shells: ShellService;
  repo: ShellRepo;
  audit: AuditLog;
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
    return { sessions: deps.access.filter(user, deps.repo.list(request.query, (id) => deps.shells.stats(id)), (s) => s.deviceId) };
  });

  api.get('/api/v1/shell/sessions/:id/recording', { schema: { tags: ['shell'], params: SessionParams } }, async (request, reply) => {
    const { user } = deps.auth(request, 'operator');
    const session = deps.repo.find(request.params.id);
    if (!session || !deps.access.sees(user, session.deviceId)) throw new TetherError('NOT_FOUND', 'No such shell session');
    const path = session.recording ? deps.shells.recordingPath(session.recording) : null;
    if (!path || !existsSync(path)) throw new TetherError('NOT_FOUND', 'The recording has expired');
    deps.audit.record(`user:${user.username}`, 'shell.recording.download', session.deviceId, { sessionId: session.id });
    reply.header('content-type', 'application/x-asciicast');
    reply.header('content-disposition', `attachment; filename="${session.id}.cast"`);
    return reply.send(createReadStream(path));
  });
}
