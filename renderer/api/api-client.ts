import { z } from 'zod';
import {
  DeviceList,
  LoginResponse,
  User,
  isErrorCode,
  type ErrorCode,
  type LoginRequest,
} from '../../protocol/index.js';

/** Failures only the client can see; server failures carry a code from the protocol's `ERRORS`. */
export type ClientErrorCode = 'NETWORK' | 'BAD_RESPONSE';

/** A failed API call with a stable code, so the UI branches on `code` rather than on text. */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode | ClientErrorCode,
    message: string,
    /** HTTP status, or 0 when no answer arrived. */
    readonly status: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The typed HTTP API the console uses. Every answer is parsed with its protocol schema. */
export interface ApiClient {
  login(credentials: LoginRequest): Promise<LoginResponse>;
  logout(): Promise<void>;
  me(): Promise<User>;
  listDevices(): Promise<DeviceList>;
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
const ErrorBodySchema = z.object({ code: z.string(), message: z.string() });

/** Builds the same-origin API client; the session rides on the HttpOnly cookie, never in JS. */
export function createApiClient(options: ApiClientOptions = {}): ApiClient {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const baseUrl = options.baseUrl ?? '';
  const timeoutMs = options.timeoutMs ?? 15_000;

  /** Sends one request; resolves with the parsed JSON body of a 2xx answer, throws {@link ApiError} otherwise. */
  async function send(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    let response: Response;
    try {
      response = await doFetch(`${baseUrl}/api/v1${path}`, {
        method,
        credentials: 'same-origin',
        headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (cause) {
      throw new ApiError('NETWORK', `Cannot reach the backend (${describe(cause)})`, 0);
    }
    const payload = await readJson(response);
    if (!response.ok) throw toApiError(response.status, payload);
    return payload;
  }

  function parse<T>(schema: z.ZodType<T, unknown>, payload: unknown, path: string): T {
    const parsed = schema.safeParse(payload);
    if (!parsed.success) throw new ApiError('BAD_RESPONSE', `Unexpected answer from ${path}`, 200);
    return parsed.data;
  }

  return {
    login: async (credentials) => parse(LoginResponse, await send('POST', '/auth/login', credentials), '/auth/login'),
    logout: async () => {
      await send('POST', '/auth/logout');
    },
    me: async () => parse(MeResponse, await send('GET', '/auth/me'), '/auth/me'),
    listDevices: async () => parse(DeviceList, await send('GET', '/devices'), '/devices'),
  };
}

async function readJson(response: Response): Promise<unknown> {
  // 204 and proxies' HTML error pages have no JSON; treat both as "no body".
  const text = await response.text().catch(() => '');
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function toApiError(status: number, payload: unknown): ApiError {
  const body = ErrorBodySchema.safeParse(payload);
  if (body.success && isErrorCode(body.data.code)) return new ApiError(body.data.code, body.data.message, status);
  return new ApiError('BAD_RESPONSE', `The backend answered HTTP ${status}`, status);
}

function describe(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
