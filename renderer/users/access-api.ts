import { z } from 'zod';
import { RegistrationToken, TokenCreateResponse } from '../../protocol/index.js';
import type {
  AccountInfo,
  AuditPage,
  AuditQueryInput,
  TokenCreateRequest,
  TotpEnableResponse,
  TotpSetupResponse,
  UserCreateRequest,
  UserInfo,
  UserUpdateRequest,
} from '../../protocol/index.js';
import { createJsonRequest } from '../api/json-request.js';

/** Users, registration tokens, the audit log and the own account; every answer parsed with its protocol schema. */
export interface AccessApi {
  users(): Promise<UserInfo[]>;
  createUser(request: UserCreateRequest): Promise<UserInfo>;
  updateUser(id: number, changes: UserUpdateRequest): Promise<UserInfo>;
  deleteUser(id: number): Promise<void>;
  tokens(): Promise<RegistrationToken[]>;
  createToken(request: TokenCreateRequest): Promise<TokenCreateResponse>;
  revokeToken(id: string): Promise<RegistrationToken>;
  audit(query: AuditQueryInput): Promise<AuditPage>;
  account(): Promise<AccountInfo>;
  totpSetup(): Promise<TotpSetupResponse>;
  totpEnable(code: string): Promise<TotpEnableResponse>;
  totpDisable(code: string): Promise<void>;
  logoutAll(): Promise<void>;
}

/** `?actor=…&…` of the audit filters that are set, for the page request and the export link alike. */
export function auditSearch(query: AuditQueryInput): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(key, String(value));
  const text = params.toString();
  return text ? `?${text}` : '';
}

export function createAccessApi(options: { fetch?: typeof fetch; timeoutMs?: number } = {}): AccessApi {
  const call = createJsonRequest(options);
  const none = z.unknown();
  // The users and audit schemas load with the first such request, not with the fleet's first screen.
  const users = () => import('../../protocol/users.js');
  return {
    users: async () => (await call((await users()).UserList, 'GET', '/users')).users,
    createUser: async (request) => call((await users()).UserInfo, 'POST', '/users', request),
    updateUser: async (id, changes) => call((await users()).UserInfo, 'PATCH', `/users/${id}`, changes),
    deleteUser: async (id) => void (await call(none, 'DELETE', `/users/${id}`)),
    tokens: async () => (await call(z.object({ tokens: z.array(RegistrationToken) }), 'GET', '/tokens')).tokens,
    createToken: (request) => call(TokenCreateResponse, 'POST', '/tokens', request),
    revokeToken: (id) => call(RegistrationToken, 'POST', `/tokens/${encodeURIComponent(id)}/revoke`),
    audit: async (query) => call((await users()).AuditPage, 'GET', `/audit${auditSearch(query)}`),
    account: async () => call((await users()).AccountInfo, 'GET', '/auth/account'),
    totpSetup: async () => call((await users()).TotpSetupResponse, 'POST', '/auth/totp/setup'),
    totpEnable: async (code) => call((await users()).TotpEnableResponse, 'POST', '/auth/totp/enable', { code }),
    totpDisable: async (code) => void (await call(none, 'POST', '/auth/totp/disable', { code })),
    logoutAll: async () => void (await call(none, 'POST', '/auth/logout-all')),
  };
}
