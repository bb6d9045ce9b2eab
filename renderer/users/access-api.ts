import { z } from 'zod';
import {
  AccountInfo,
  AuditPage,
  RegistrationToken,
  TokenCreateResponse,
  TotpEnableResponse,
  TotpSetupResponse,
  UserInfo,
  UserList,
  type AuditQueryInput,
  type TokenCreateRequest,
  type UserCreateRequest,
  type UserUpdateRequest,
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
  return {
    users: async () => (await call(UserList, 'GET', '/users')).users,
    createUser: (request) => call(UserInfo, 'POST', '/users', request),
    updateUser: (id, changes) => call(UserInfo, 'PATCH', `/users/${id}`, changes),
    deleteUser: async (id) => void (await call(none, 'DELETE', `/users/${id}`)),
    tokens: async () => (await call(z.object({ tokens: z.array(RegistrationToken) }), 'GET', '/tokens')).tokens,
    createToken: (request) => call(TokenCreateResponse, 'POST', '/tokens', request),
    revokeToken: (id) => call(RegistrationToken, 'POST', `/tokens/${encodeURIComponent(id)}/revoke`),
    audit: (query) => call(AuditPage, 'GET', `/audit${auditSearch(query)}`),
    account: () => call(AccountInfo, 'GET', '/auth/account'),
    totpSetup: () => call(TotpSetupResponse, 'POST', '/auth/totp/setup'),
    totpEnable: (code) => call(TotpEnableResponse, 'POST', '/auth/totp/enable', { code }),
    totpDisable: async (code) => void (await call(none, 'POST', '/auth/totp/disable', { code })),
    logoutAll: async () => void (await call(none, 'POST', '/auth/logout-all')),
  };
}
