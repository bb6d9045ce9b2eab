import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { ERRORS, TetherError, type ErrorBody, type ErrorCode } from '../../protocol/index.js';

/** Maps Fastify's own failures to our stable codes. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'BAD_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'BAD_REQUEST',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_VALIDATION: 'BAD_REQUEST',
};

/** Every 4xx/5xx answer is `{code, message}` with a code from protocol/errors.ts. */
export function errorBody(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof TetherError) return { status: err.httpStatus, body: { code: err.code, message: err.message } };
  if (hasZodFastifySchemaValidationErrors(err)) {
    const first = err.validation[0];
    const where = first ? `${first.instancePath || '/'}: ${first.message ?? 'invalid'}` : 'invalid';
    const field = err.validationContext === 'body' && first?.instancePath ? { field: first.instancePath } : {};
    return { status: 400, body: { code: 'BAD_REQUEST', message: `${err.validationContext ?? 'request'} ${where}`, ...field } };
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

export function handleError(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const { status, body } = errorBody(err);
  if (status >= 500) request.log.error({ err }, 'request failed');
  void reply.status(status).send(body);
}
