/**
 * HTTP as an attacker sends it: the path goes on the wire exactly as given (no URL
 * normalisation of `..`, `%2e%2e`, `//` or backslashes), with any headers and body.
 */
import { request } from 'node:https';
import { connect, type TLSSocket } from 'node:tls';
import type { Backend } from '../harness.js';

export interface RawResponse { status: number; headers: Record<string, string | string[] | undefined>; text: string; json: unknown }

export function rawRequest(backend: Pick<Backend, 'port' | 'caCertPem'>, method: string, path: string, options: { headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: backend.port, method, path, ca: backend.caCertPem, servername: 'localhost', checkServerIdentity: () => undefined, headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A TLS socket to the backend that the test writes to byte by byte (slowloris). */
export function openTls(backend: Pick<Backend, 'port' | 'caCertPem'>): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: backend.port, ca: backend.caCertPem, checkServerIdentity: () => undefined }, () => resolve(socket));
    socket.once('error', reject);
  });
}
