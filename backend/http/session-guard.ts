import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { TetherError, type User } from '../../protocol/index.js';
import { authenticateRequest } from '../auth/request-auth.js';
import type { UserService } from '../auth/users.js';

export interface Session {
  user: User;
  token: string;
}

/** The API routes anyone may call: logging in, enrolling a device (its token is in the body), the API description. */
export const PUBLIC_API_ROUTES: ReadonlySet<string> = new Set(['/api/v1/auth/login', '/api/v1/agent/register', '/api/v1/openapi.json']);

/**
 * Every route under /api/v1/ needs a session, checked in `onRequest`: before the body is read,
 * parsed or validated, so an anonymous caller gets 401 whatever it sends and learns nothing of a
 * route's schema. Unknown paths keep their 404. Returns the lookup the routes' role checks use:
 * synchronous, since the (asynchronous) authentication already ran in the hook; a route outside
 * the guard authenticates with `authenticateRequest` itself.
 */
export function guardSessions(app: FastifyInstance<Server, IncomingMessage, ServerResponse, Logger>, users: Pick<UserService, 'authenticate'>): (request: FastifyRequest) => Session {
  const sessions = new WeakMap<FastifyRequest, Session>();
  app.addHook('onRequest', async (request) => {
    const route = request.routeOptions.url;
    if (request.is404 || route === undefined || !route.startsWith('/api/v1/') || PUBLIC_API_ROUTES.has(route)) return;
    sessions.set(request, await authenticateRequest(users, request.headers));
  });
  return (request) => {
    const session = sessions.get(request);
    if (!session) throw new TetherError('UNAUTHORIZED');
    return session;
  };
}
