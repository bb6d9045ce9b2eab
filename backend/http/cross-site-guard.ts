import type { IncomingMessage } from 'node:http';
import { TetherError } from '../../protocol/index.js';
import { originAllowed } from './origin.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * CSRF defence in depth behind the SameSite=Strict cookie: a state-changing request that a
 * browser marks as coming from another site (a foreign or `null` Origin, or Sec-Fetch-Site
 * cross-site) is refused with ORIGIN_REFUSED before any handler runs. API clients and agents
 * send neither header and are not affected.
 */
export function refuseCrossSite(request: Pick<IncomingMessage, 'method' | 'headers'>, allowedOrigins: ReadonlySet<string>): void {
  if (SAFE_METHODS.has(request.method ?? 'GET')) return;
  if (request.headers['sec-fetch-site'] === 'cross-site') throw new TetherError('ORIGIN_REFUSED');
  if (!originAllowed(request as IncomingMessage, allowedOrigins)) throw new TetherError('ORIGIN_REFUSED');
}
