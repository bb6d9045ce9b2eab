import { ERRORS, isErrorCode } from '../../protocol/index.js';
import { ApiError, type ClientErrorCode } from './api-client.js';

/** An error as the UI shows it: the stable code to branch on and the sentence to display. */
export interface UiError {
  code: ApiError['code'] | 'UNEXPECTED';
  message: string;
  /** Validation errors: the request body's field at fault (`/username`), for the form to mark its input. */
  field?: string;
}

const CLIENT_MESSAGES: Record<ClientErrorCode, string> = {
  NETWORK: 'Cannot reach the backend',
  BAD_RESPONSE: 'The backend gave an unexpected answer',
};

/** Answers whose message is about this request's input (what is wrong with which field), not a fixed condition. */
const VALIDATION_STATUSES = new Set([400, 422]);

/**
 * Maps any thrown value to a {@link UiError}. A validation error shows the server's own message
 * (which says what is wrong, with the field beside its input); other server codes show the
 * message from the protocol's one table, so the wording is the same whatever a backend sent.
 */
export function toUiError(error: unknown): UiError {
  if (error instanceof ApiError) {
    if (!isErrorCode(error.code)) return { code: error.code, message: CLIENT_MESSAGES[error.code] };
    if (VALIDATION_STATUSES.has(error.status) && error.message.trim() !== '') {
      return { code: error.code, message: error.message, ...(error.field !== undefined && { field: error.field }) };
    }
    return { code: error.code, message: ERRORS[error.code].message };
  }
  return { code: 'UNEXPECTED', message: 'Something went wrong' };
}
