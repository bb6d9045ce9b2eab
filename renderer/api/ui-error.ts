import { ERRORS, isErrorCode } from '../../protocol/index.js';
import { ApiError, type ClientErrorCode } from './api-client.js';

/** An error as the UI shows it: the stable code to branch on and the sentence to display. */
export interface UiError {
  code: ApiError['code'] | 'UNEXPECTED';
  message: string;
}

const CLIENT_MESSAGES: Record<ClientErrorCode, string> = {
  NETWORK: 'Cannot reach the backend',
  BAD_RESPONSE: 'The backend gave an unexpected answer',
};

/**
 * Maps any thrown value to a {@link UiError}. Server codes show the message from the protocol's
 * one table, so the wording is the same whatever text a backend put in its answer.
 */
export function toUiError(error: unknown): UiError {
  if (error instanceof ApiError) {
    if (isErrorCode(error.code)) return { code: error.code, message: ERRORS[error.code].message };
    return { code: error.code, message: CLIENT_MESSAGES[error.code] };
  }
  return { code: 'UNEXPECTED', message: 'Something went wrong' };
}
