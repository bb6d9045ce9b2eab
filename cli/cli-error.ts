import type { IncomingMessage } from 'node:http';
import { isErrorCode, TetherError, type ErrorCode } from '../protocol/index.js';

/**
 * An error the CLI reports as `error CODE: message`. The code is the API's own when the backend
 * answered one (a newer backend may send a code this CLI does not know yet: it is kept as sent),
 * else one from protocol/errors.ts.
 */
export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** The process exit status; 1 unless a command says otherwise (exec passes the remote one). */
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }

  static of(code: ErrorCode, message?: string): CliError {
    return CliError.from(new TetherError(code, message));
  }

  /** Anything thrown, as the `{code, message}` the CLI prints. */
  static from(err: unknown): CliError {
    if (err instanceof CliError) return err;
    if (err instanceof TetherError) return new CliError(err.code, err.message);
    const message = err instanceof Error ? err.message : String(err);
    return new CliError('INTERNAL' satisfies ErrorCode, message);
  }

  /** Reads an API error body; a body without a string `code` becomes INTERNAL with the HTTP status. */
  static fromBody(status: number, body: unknown): CliError {
    if (typeof body === 'object' && body !== null && 'code' in body && typeof body.code === 'string' && body.code !== '') {
      const message = 'message' in body && typeof body.message === 'string' ? body.message : '';
      return new CliError(body.code.slice(0, 64), message);
    }
    return new CliError('INTERNAL' satisfies ErrorCode, `The backend answered HTTP ${status} without an error code`);
  }

  get known(): boolean {
    return isErrorCode(this.code);
  }

  toJSON(): { code: string; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** The coded error of a WebSocket upgrade the backend refused (its `{code, message}` body, at most 64 KB read). */
export function refusalOf(res: IncomingMessage): Promise<CliError> {
  return new Promise((resolve) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => (body = (body + chunk).slice(0, 64 * 1024)));
    res.on('end', () => {
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      resolve(CliError.fromBody(res.statusCode ?? 0, json));
    });
  });
}
