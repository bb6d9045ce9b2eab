import { describe, expect, it } from 'vitest';
import { ApiError } from './api-client.js';
import { toUiError } from './ui-error.js';

describe('toUiError', () => {
  it('shows the protocol table message for a server code, not the text the server sent', () => {
    expect(toUiError(new ApiError('LOGIN_FAILED', 'nope', 401))).toEqual({ code: 'LOGIN_FAILED', message: 'Wrong username or password' });
  });

  it("shows a validation error's own message and its field, for the form to put beside the input", () => {
    expect(toUiError(new ApiError('BAD_REQUEST', 'body /username: letters, digits and _ . @ - only', 400, '/username'))).toEqual({
      code: 'BAD_REQUEST',
      message: 'body /username: letters, digits and _ . @ - only',
      field: '/username',
    });
    expect(toUiError(new ApiError('CONFIG_SCHEMA_VIOLATION', '/agent/samplingIntervalMs must be >= 1000', 422))).toEqual({ code: 'CONFIG_SCHEMA_VIOLATION', message: '/agent/samplingIntervalMs must be >= 1000' });
  });

  it('names client-side failures', () => {
    expect(toUiError(new ApiError('NETWORK', 'fetch failed', 0))).toEqual({ code: 'NETWORK', message: 'Cannot reach the backend' });
    expect(toUiError(new ApiError('BAD_RESPONSE', 'x', 502)).code).toBe('BAD_RESPONSE');
  });

  it('never leaks an unknown error', () => {
    expect(toUiError(new TypeError('x is undefined'))).toEqual({ code: 'UNEXPECTED', message: 'Something went wrong' });
  });
});
