/** Raw HTTP calls of the file transfer API for integration tests (bodies are bytes, not JSON). */
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:https';
import type { Backend } from './harness.js';

export interface RawAnswer { status: number; headers: IncomingHttpHeaders; trailers: NodeJS.Dict<string>; body: Buffer }

/** One HTTPS call with a raw body; `cutAfter`: destroy the request once that many body bytes were written. */
export function rawCall(backend: Pick<Backend, 'url' | 'caCertPem'>, method: string, path: string, options: { token?: string; body?: Buffer; headers?: Record<string, string>; cutAfter?: number; chunkBytes?: number } = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    // An early answer (a refusal) may close the connection while the body is still being written.
    let answered = false;
    const req = request(new URL(path, backend.url), {
      method,
      ca: backend.caCertPem,
      headers: {
        ...(options.body ? { 'content-type': 'application/octet-stream', 'content-length': String(options.body.length) } : {}),
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...options.headers,
      },
    }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      const done = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, trailers: res.trailers, body: Buffer.concat(chunks) });
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', done);
      res.on('close', done);
      res.on('error', reject);
    });
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    const body = options.body;
    if (!body) return void req.end();
    const chunk = options.chunkBytes ?? 64 * 1024;
    let offset = 0;
    const write = (): void => {
      while (offset < body.length && !answered) {
        if (options.cutAfter !== undefined && offset >= options.cutAfter) {
          req.destroy(new Error('cut by the test'));
          return;
        }
        const part = body.subarray(offset, offset + chunk);
        offset += part.length;
        if (!req.write(part)) return void req.once('drain', write);
      }
      req.end();
    };
    write();
  });
}

export function jsonOf(answer: RawAnswer): Record<string, unknown> {
  return JSON.parse(answer.body.toString('utf8')) as Record<string, unknown>;
}
