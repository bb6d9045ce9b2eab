import { request } from 'node:https';
import type { z } from 'zod';
import { CliError } from './cli-error.js';

/** A job's detail holds every run's output (up to 1 MB per stream each): generous, but bounded. */
const MAX_RESPONSE_BYTES = 256 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 30_000;

export interface ApiTarget {
  url: string;
  caCertPem: string;
  token?: string;
}

/**
 * The public HTTP API over HTTPS, trusting only the pinned CA (host names are checked as usual).
 * Answers are parsed with the `protocol/` schema the caller names; a 4xx/5xx answer becomes a
 * CliError with the API's `{code, message}`.
 */
export class ApiClient {
  constructor(readonly target: ApiTarget) {}

  /** The parsed answer and the JSON as sent (for `--json`, which prints what the API said). */
  async call<T extends z.ZodType>(schema: T, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ value: z.infer<T>; json: unknown }> {
    const { status, json } = await this.raw(method, path, body);
    if (status < 200 || status >= 300) throw CliError.fromBody(status, json);
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw CliError.of('INTERNAL', `The backend's answer to ${method} ${path} has an unexpected shape: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    return { value: parsed.data, json };
  }

  /** For answers without a body (204). */
  async send(method: 'POST', path: string, body?: unknown, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    const { status, json } = await this.raw(method, path, body, timeoutMs);
    if (status < 200 || status >= 300) throw CliError.fromBody(status, json);
  }

  raw(method: string, path: string, body?: unknown, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<{ status: number; json: unknown }> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const url = new URL(path, this.target.url);
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          ca: this.target.caCertPem,
          timeout: timeoutMs,
          headers: {
            accept: 'application/json',
            ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
            ...(this.target.token ? { authorization: `Bearer ${this.target.token}` } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_RESPONSE_BYTES) req.destroy(CliError.of('PAYLOAD_TOO_LARGE', `The answer to ${method} ${url.pathname} exceeds ${MAX_RESPONSE_BYTES} bytes`));
            else chunks.push(chunk);
          });
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown = undefined;
            if (text !== '') {
              try {
                json = JSON.parse(text);
              } catch {
                json = undefined;
              }
            }
            resolve({ status: res.statusCode ?? 0, json });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(CliError.of('BACKEND_UNREACHABLE', `No answer from ${url.origin} within ${timeoutMs} ms`)));
      req.on('error', (err) => reject(err instanceof CliError ? err : CliError.of('BACKEND_UNREACHABLE', `${url.origin}: ${err.message}`)));
      req.end(payload);
    });
  }
}
