import type { IncomingMessage } from 'node:http';
import { TetherError, type Role, type User } from '../../protocol/index.js';
import type { UserService } from './users.js';

export const SESSION_COOKIE = 'tether_session';
const BEARER = /^Bearer (\S{1,512})$/;

/** The session token of a request: `Authorization: Bearer` (API clients) or the HttpOnly cookie (browsers). */
export function sessionToken(headers: IncomingMessage['headers']): string | undefined {
  const bearer = BEARER.exec(headers.authorization ?? '');
  if (bearer?.[1]) return bearer[1];
  for (const part of (headers.cookie ?? '').split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === SESSION_COOKIE && rest.length > 0) return decodeURIComponent(rest.join('='));
  }
  return undefined;
}

/** The user behind a request, or UNAUTHORIZED / SESSION_INVALID. */
export async function authenticateRequest(users: Pick<UserService, 'authenticate'>, headers: IncomingMessage['headers']): Promise<{ user: User; token: string }> {
  const token = sessionToken(headers);
  if (!token) throw new TetherError('UNAUTHORIZED');
  return { user: await users.authenticate(token), token };
}

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** FORBIDDEN unless the user's role is at least `role`. */
export function requireRole(user: User, role: Role): void {
  if (RANK[user.role] < RANK[role]) throw new TetherError('FORBIDDEN', `This needs the ${role} role`);
}
