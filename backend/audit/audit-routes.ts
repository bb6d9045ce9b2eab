import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { AuditPage, AuditQuery, type Role, type User } from '../../protocol/index.js';
import type { AuditQueryService } from './audit-query.js';

type ZodApi = FastifyInstance<Server, IncomingMessage, ServerResponse, Logger, ZodTypeProvider>;

export interface AuditRouteDeps {
  query: AuditQueryService;
  auth(request: FastifyRequest, role?: Role): { user: User };
}

const ExportQuery = AuditQuery.omit({ limit: true });

/** The audit log for admins: filtered pages, and the whole selection as JSON lines. */
export function registerAuditRoutes(api: ZodApi, deps: AuditRouteDeps): void {
  api.get('/api/v1/audit', { schema: { tags: ['audit'], querystring: AuditQuery, response: { 200: AuditPage } } }, async (request) => {
    deps.auth(request, 'admin');
    return deps.query.page(request.query);
  });
  api.get('/api/v1/audit/export', { schema: { tags: ['audit'], querystring: ExportQuery } }, async (request, reply) => {
    const { user } = deps.auth(request, 'admin');
    void reply.header('content-type', 'application/x-ndjson; charset=utf-8');
    void reply.header('content-disposition', 'attachment; filename="tether-audit.jsonl"');
    return reply.send(await deps.query.exportLines(request.query, `user:${user.username}`));
  });
}
