import { z } from 'zod';
import { isErrorCode, type ErrorCode } from '../../protocol/index.js';

/** Failures only the client can see; server failures carry a code from the protocol's `ERRORS`. */
export type ClientErrorCode = 'NETWORK' | 'BAD_RESPONSE';

/** A failed API call with a stable code, so the UI branches on `code` rather than on text. */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode | ClientErrorCode,
    message: string,
    /** HTTP status, or 0 when no answer arrived. */
    readonly status: number,
    /** Validation errors: the offending field of the request body (a JSON pointer such as `/username`). */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Parses an answer body, or throws ApiError BAD_RESPONSE when it is not what the schema says. */
export type JsonRequest = <T>(schema: z.ZodType<T, unknown>, method: HttpMethod, path: string, body?: unknown) => Promise<T>;

const ErrorBody = z.object({ code: z.string(), message: z.string(), field: z.string().max(256).optional() });

/** The {@link ApiError} of a failed answer from its status and parsed body (`{code, message}`, or anything else). */
export function apiErrorOf(status: number, body: unknown): ApiError {
  const error = ErrorBody.safeParse(body);
  if (error.success && isErrorCode(error.data.code)) return new ApiError(error.data.code, error.data.message, status, error.data.field);
  return new ApiError('BAD_RESPONSE', `The backend answered HTTP ${status}`, status);
}

/**
 * The one way feature clients call the REST API: same-origin with the session cookie, a
 * timeout, `{code, message}` errors as {@link ApiError}, and every answer parsed with its schema.
 */
export function createJsonRequest(options: { fetch?: typeof fetch; timeoutMs?: number; prefix?: string } = {}): JsonRequest {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const timeoutMs = options.timeoutMs ?? 15_000;
  const prefix = options.prefix ?? '/api/v1';
  return async (schema, method, path, body) => {
    let response: Response;
    try {
      response = await doFetch(`${prefix}${path}`, {
        method,
        credentials: 'same-origin',
        headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (cause) {
      throw new ApiError('NETWORK', `Cannot reach the backend (${cause instanceof Error ? cause.message : String(cause)})`, 0);
    }
    // 204 and proxies' HTML error pages have no JSON; both count as "no body".
    const text = await response.text().catch(() => '');
    let json: unknown;
    try {
      json = text === '' ? undefined : (JSON.parse(text) as unknown);
    } catch {
      json = undefined;
    }
    if (!response.ok) throw apiErrorOf(response.status, json);
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new ApiError('BAD_RESPONSE', `Unexpected answer from ${path}`, response.status);
    return parsed.data;
  };
}
