import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { z } from 'zod';
import {
  AccountInfo,
  LoginRequest,
  LoginResponse,
  TetherError,
  TotpDisableRequest,
  TotpEnableRequest,
  TotpEnableResponse,
  TotpSetupResponse,
  User,
  UserCreateRequest,
  UserInfo,
  UserList,
  UserUpdateRequest,
  type Role,
} from '../../protocol/index.js';
import { LoginThrottledError, type LoginThrottle } from './login-throttle.js';
import { SESSION_COOKIE } from './request-auth.js';
import { SESSION_TTL_MS, type UserService } from './users.js';

type ZodApi = FastifyInstance<Server, IncomingMessage, ServerResponse, Logger, ZodTypeProvider>;

export interface UserRouteDeps {
  users: UserService;
  throttle: LoginThrottle;
  auth(request: FastifyRequest, role?: Role): { user: User; token: string };
}

const ErrorSchema = z.object({ code: z.string(), message: z.string() });
const UserParams = z.object({ id: z.coerce.number().int().positive() });
const COOKIE = `Path=/; HttpOnly; Secure; SameSite=Strict`;

/**
 * Login, sessions, the second factor (any logged-in user, for their own account) and user
 * management (admins). UserService audits every one of these actions itself.
 */
export function registerUserRoutes(api: ZodApi, deps: UserRouteDeps): void {
  const { users, throttle, auth } = deps;

  // ── sessions ──
  api.post('/api/v1/auth/login', { schema: { tags: ['auth'], body: LoginRequest, response: { 200: LoginResponse, 401: ErrorSchema, 429: ErrorSchema } } }, async (request, reply) => {
    const { username } = request.body;
    try {
      await throttle.check(username, request.ip);
    } catch (err) {
      if (err instanceof LoginThrottledError) void reply.header('retry-after', String(err.retryAfterS));
      throw err;
    }
    let session;
    try {
      session = await users.login(request.body, { ip: request.ip });
    } catch (err) {
      // A missing second factor is a step of the login, not a failed guess.
      if (!(err instanceof TetherError && err.code === 'TOTP_REQUIRED')) await throttle.failed(username, request.ip);
      throw err;
    }
    await throttle.succeeded(username, request.ip);
    reply.header('set-cookie', `${SESSION_COOKIE}=${session.token}; ${COOKIE}; Max-Age=${SESSION_TTL_MS / 1000}`);
    return session;
  });
  api.post('/api/v1/auth/logout', { schema: { tags: ['auth'] } }, async (request, reply) => {
    await users.logout(auth(request).token);
    reply.header('set-cookie', `${SESSION_COOKIE}=; ${COOKIE}; Max-Age=0`);
    return reply.status(204).send();
  });
  api.post('/api/v1/auth/logout-all', { schema: { tags: ['auth'] } }, async (request, reply) => {
    const { user } = auth(request);
    await users.endSessions(user.id, `user:${user.username}`);
    reply.header('set-cookie', `${SESSION_COOKIE}=; ${COOKIE}; Max-Age=0`);
    return reply.status(204).send();
  });
  api.get('/api/v1/auth/me', { schema: { tags: ['auth'], response: { 200: z.object({ user: User }) } } }, async (request) => ({ user: auth(request).user }));
  api.get('/api/v1/auth/account', { schema: { tags: ['auth'], response: { 200: AccountInfo } } }, async (request) => ({ user: await users.info(auth(request).user.id) }));

  // ── second factor (own account) ──
  api.post('/api/v1/auth/totp/setup', { schema: { tags: ['auth'], response: { 200: TotpSetupResponse } } }, async (request) => {
    const { user } = auth(request);
    return users.totpSetup(user.id);
  });
  api.post('/api/v1/auth/totp/enable', { schema: { tags: ['auth'], body: TotpEnableRequest, response: { 200: TotpEnableResponse } } }, async (request) => {
    const { user } = auth(request);
    return { recoveryCodes: await users.totpEnable(user.id, request.body.code) };
  });
  api.post('/api/v1/auth/totp/disable', { schema: { tags: ['auth'], body: TotpDisableRequest } }, async (request, reply) => {
    const { user } = auth(request);
    await users.totpDisable(user.id, request.body.code);
    return reply.status(204).send();
  });

  // ── user management (admin) ──
  api.get('/api/v1/users', { schema: { tags: ['users'], response: { 200: UserList } } }, async (request) => {
    auth(request, 'admin');
    return { users: await users.list() };
  });
  api.post('/api/v1/users', { schema: { tags: ['users'], body: UserCreateRequest, response: { 200: UserInfo } } }, async (request) => {
    const { user: admin } = auth(request, 'admin');
    const { username, password, role, scope } = request.body;
    return users.add(username, password, role, scope ?? null, `user:${admin.username}`);
  });
  api.patch('/api/v1/users/:id', { schema: { tags: ['users'], params: UserParams, body: UserUpdateRequest, response: { 200: UserInfo } } }, async (request) => {
    const { user: admin } = auth(request, 'admin');
    const { role, scope, password } = request.body;
    return users.update(request.params.id, { role, scope, password }, `user:${admin.username}`);
  });
  api.delete('/api/v1/users/:id', { schema: { tags: ['users'], params: UserParams } }, async (request, reply) => {
    const { user: admin } = auth(request, 'admin');
    await users.remove(request.params.id, `user:${admin.username}`);
    return reply.status(204).send();
  });
}
