import { request } from 'node:https';
import { TetherError, isErrorCode } from '../../protocol/errors.js';

const MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * POSTs JSON over HTTPS trusting only `caCertPem` (the pinned backend CA), and returns the
 * parsed JSON answer. A 4xx/5xx `{code, message}` answer becomes a TetherError with that code.
 */
export function postJson(url: string, body: unknown, caCertPem: string, timeoutMs = 30_000): Promise<unknown> {
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', ca: caCertPem, headers: { 'content-type': 'application/json', 'content-length': payload.length }, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) req.destroy(new TetherError('BAD_REQUEST', 'The backend answer is too large'));
          else chunks.push(chunk);
        });
        res.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            return reject(new TetherError('BAD_REQUEST', `The backend answered HTTP ${res.statusCode ?? 0} without JSON`));
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) return resolve(json);
          const code = typeof json === 'object' && json !== null && 'code' in json ? json.code : undefined;
          const message = typeof json === 'object' && json !== null && 'message' in json && typeof json.message === 'string' ? json.message : undefined;
          reject(isErrorCode(code) ? new TetherError(code, message) : new TetherError('INTERNAL', `The backend answered HTTP ${status}`));
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new TetherError('BACKEND_UNREACHABLE', `No answer from ${url} within ${timeoutMs} ms`)));
    req.on('error', (err) => reject(err instanceof TetherError ? err : new TetherError('BACKEND_UNREACHABLE', `${url}: ${err.message}`, { cause: err })));
    req.end(payload);
  });
}
