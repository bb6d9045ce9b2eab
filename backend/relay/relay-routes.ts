import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { z } from 'zod';
import { DeviceId, RelayGrantRequest, RelayGrantResponse, type Role, type User } from '../../protocol/index.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { RelayGrants } from './relay-grants.js';

type ZodApi = FastifyInstance<Server, IncomingMessage, ServerResponse, Logger, ZodTypeProvider>;

export interface RelayRouteDeps {
  grants: RelayGrants;
  audit: AuditLog;
  authDevice(request: FastifyRequest, role: Role, deviceId: string): { user: User; token: string };
}

const DeviceParams = z.object({ id: DeviceId });

/**
 * `POST /api/v1/devices/:id/relay {port}`: a relay grant for an operator or admin who may see the
 * device, as the path to open: `/relay/<device>/<port>/<token>/`. The token is in the path, not a
 * cookie: relayed pages run sandboxed with an opaque origin, and browsers send no cookie (nor
 * SameSite=None, which incognito windows block as third-party) with such pages' own requests.
 */
export function registerRelayRoutes(api: ZodApi, deps: RelayRouteDeps): void {
  api.post('/api/v1/devices/:id/relay', { schema: { tags: ['devices'], params: DeviceParams, body: RelayGrantRequest, response: { 200: RelayGrantResponse } } }, async (request) => {
    const { user, token } = deps.authDevice(request, 'operator', request.params.id);
    const { port } = request.body;
    const deviceId = request.params.id;
    const { token: grantToken, grant } = deps.grants.issue(deviceId, port, token);
    await deps.audit.record(`user:${user.username}`, 'relay.grant', deviceId, { port, expiresAt: grant.expiresAt });
    return { path: `/relay/${deviceId}/${port}/${grantToken}/`, expiresAt: grant.expiresAt };
  });
}
