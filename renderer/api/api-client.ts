import { z } from 'zod';
import { DeviceList, LoginResponse, User, type DeviceListQuery, type LoginRequest } from '../../protocol/index.js';
import { API_PREFIX, ME_PATH, devicesPath } from './api-paths.js';
import { createJsonRequest } from './json-request.js';

export { ApiError, type ClientErrorCode } from './json-request.js';

/** The typed HTTP API the console uses. Every answer is parsed with its protocol schema. */
export interface ApiClient {
  login(credentials: LoginRequest): Promise<LoginResponse>;
  logout(): Promise<void>;
  me(): Promise<User>;
  /** One page of the device list in name order; every device when no limit is given. */
  listDevices(page?: DeviceListQuery): Promise<DeviceList>;
}

export interface ApiClientOptions {
  /** Injected so tests run without a network; defaults to the global `fetch`. */
  fetch?: typeof fetch;
  /** Prefix for `/api/v1/...`; empty for same-origin. */
  baseUrl?: string;
  /** Per-request bound: a hung backend must not leave the UI waiting forever. */
  timeoutMs?: number;
}

/** `/auth/me` answers with the `User`; an envelope `{user}` is accepted too so either backend shape parses. */
const MeResponse = z.union([User, z.object({ user: User }).transform((body) => body.user)]);

/** Builds the same-origin API client; the session rides on the HttpOnly cookie, never in JS. */
export function createApiClient(options: ApiClientOptions = {}): ApiClient {
  const call = createJsonRequest({ fetch: options.fetch, timeoutMs: options.timeoutMs, prefix: `${options.baseUrl ?? ''}${API_PREFIX}` });
  return {
    login: (credentials) => call(LoginResponse, 'POST', '/auth/login', credentials),
    logout: async () => {
      await call(z.unknown(), 'POST', '/auth/logout');
    },
    me: () => call(MeResponse, 'GET', ME_PATH),
    listDevices: (page = {}) => call(DeviceList, 'GET', devicesPath(page)),
  };
}
