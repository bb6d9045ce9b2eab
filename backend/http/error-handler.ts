import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { storeUnavailable } from '../store/store-health.js';
import { ERRORS, escapeControlCharacters, issueErrorCode, issueMessage, TetherError, type ErrorBody, type ErrorCode } from '../../protocol/index.js';

/** Maps Fastify's own failures to our stable codes. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'BAD_REQUEST',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_VALIDATION: 'BAD_REQUEST',
};

/** Every 4xx/5xx answer is `{code, message}` with a code from protocol/errors.ts. */
export function errorBody(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof TetherError) return { status: err.httpStatus, body: { code: err.code, message: err.message } };
  const outage = storeUnavailable(err);
  if (outage) return { status: outage.httpStatus, body: { code: outage.code, message: outage.message } };
  if (hasZodFastifySchemaValidationErrors(err)) {
    // An issue that carries its own code (control characters) wins over the first one.
    const first = err.validation.find((v) => issueErrorCode(v.params) !== undefined) ?? err.validation[0];
    const code = issueErrorCode(first?.params) ?? 'BAD_REQUEST';
    const message = code === 'BAD_REQUEST' ? first?.message : issueMessage(first?.params);
    // The path holds record keys as sent: never echo a control character back.
    const where = first ? `${escapeControlCharacters(first.instancePath || '/')}: ${message ?? 'invalid'}` : 'invalid';
    const field = err.validationContext === 'body' && first?.instancePath ? { field: escapeControlCharacters(first.instancePath) } : {};
    return { status: ERRORS[code].http, body: { code, message: `${err.validationContext ?? 'request'} ${where}`, ...field } };
  }
  // `throw null` or a thrown string is still an answer with a code, not a crash of the handler.
  const fastifyError: Partial<FastifyError> = typeof err === 'object' && err !== null ? err : {};
  // hasOwn: a code like "constructor" must not find Object.prototype's members.
  const mapped = fastifyError.code !== undefined && Object.hasOwn(FASTIFY_CODES, fastifyError.code) ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (mapped) return { status: ERRORS[mapped].http, body: { code: mapped, message: fastifyError.message ?? ERRORS[mapped].message } };
  // SyntaxError from the JSON body parser carries statusCode 400.
  if (fastifyError.statusCode === 400) return { status: 400, body: { code: 'BAD_REQUEST', message: fastifyError.message ?? 'Bad request' } };
  return { status: 500, body: { code: 'INTERNAL', message: ERRORS.INTERNAL.message } };
}

/** The error handler; `onOutage` hears of each database outage a request ran into (readiness). */
export function handleError(err: unknown, request: FastifyRequest, reply: FastifyReply, onOutage?: (err: TetherError) => void): void {
  const { status, body } = errorBody(err);
  const outage = storeUnavailable(err);
  if (outage) onOutage?.(outage);
  if (status >= 500) request.log.error({ err }, 'request failed');
  void reply.status(status).send(body);
}
