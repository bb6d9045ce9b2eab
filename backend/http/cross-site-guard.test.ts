import { describe, expect, it } from 'vitest';
import { refuseCrossSite } from './cross-site-guard.js';

const allowed = new Set(['https://tether.example:8443']);
const req = (method: string, headers: Record<string, string>) => ({ method, headers: { host: 'tether.example:8443', ...headers } });

describe('refuseCrossSite', () => {
  it('refuses state-changing requests from a foreign or null Origin, or marked cross-site', () => {
    const refused: Array<Record<string, string>> = [{ origin: 'https://evil.example' }, { origin: 'null' }, { 'sec-fetch-site': 'cross-site' }, { origin: 'http://tether.example:8443' }];
    for (const headers of refused) {
      expect(() => refuseCrossSite(req('POST', headers), allowed), JSON.stringify(headers)).toThrow(expect.objectContaining({ code: 'ORIGIN_REFUSED' }));
    }
  });

  it('lets through the console\'s own origin, API clients without Origin, and safe methods', () => {
    expect(() => refuseCrossSite(req('POST', { origin: 'https://tether.example:8443' }), allowed)).not.toThrow();
    expect(() => refuseCrossSite(req('DELETE', {}), allowed)).not.toThrow();
    expect(() => refuseCrossSite(req('GET', { origin: 'https://evil.example' }), allowed)).not.toThrow();
  });
});
