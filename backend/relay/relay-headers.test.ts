import { describe, expect, it } from 'vitest';
import { RELAY_SANDBOX_CSP, requestHeadersForDevice, responseHeadersForBrowser, rewriteLocation, rewriteSetCookie, stripOwnCookies } from './relay-headers.js';

const PREFIX = `/relay/dev_abcdefghijklmnopqrstu/8080/${'t'.repeat(43)}/`;

describe('relay headers', () => {
  it("never passes Tether's own cookies to the device", () => {
    expect(stripOwnCookies('tether_session=secret; a=1; b=2')).toBe('a=1; b=2');
    expect(stripOwnCookies('tether_session=secret')).toBeNull();
    const out = requestHeadersForDevice({ host: 'fleet.example', cookie: 'tether_session=s; theme=dark', connection: 'keep-alive', 'x-forwarded-for': '1.2.3.4', accept: 'text/html' }, { prefix: PREFIX, port: 8080, publicHost: 'fleet.example', upgrade: false });
    expect(out).toEqual({
      accept: 'text/html', cookie: 'theme=dark', host: '127.0.0.1:8080', connection: 'close',
      'x-forwarded-prefix': PREFIX.slice(0, -1), 'x-forwarded-proto': 'https', 'x-forwarded-host': 'fleet.example',
    });
  });

  it('keeps the upgrade of a WebSocket handshake', () => {
    const out = requestHeadersForDevice({ upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-key': 'k' }, { prefix: PREFIX, port: 8080, publicHost: 'h', upgrade: true });
    expect(out).toMatchObject({ upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-key': 'k' });
  });

  it('rewrites redirects to the device under the prefix', () => {
    expect(rewriteLocation('/login?next=/', PREFIX, 8080)).toBe(`${PREFIX}login?next=/`);
    expect(rewriteLocation('http://127.0.0.1:8080/a#b', PREFIX, 8080)).toBe(`${PREFIX}a#b`);
    expect(rewriteLocation('http://localhost:9090/a', PREFIX, 8080)).toBe('http://localhost:9090/a');
    expect(rewriteLocation('https://example.com/', PREFIX, 8080)).toBe('https://example.com/');
    expect(rewriteLocation('next', PREFIX, 8080)).toBe('next');
  });

  it("confines a device's cookies to the prefix and refuses Tether's names", () => {
    expect(rewriteSetCookie('sid=1; Path=/app; Domain=example.com; HttpOnly', PREFIX)).toBe(`sid=1; Path=${PREFIX}app; HttpOnly`);
    expect(rewriteSetCookie('sid=1', PREFIX)).toBe(`sid=1; Path=${PREFIX}`);
    expect(rewriteSetCookie('tether_session=evil; Path=/', PREFIX)).toBeNull();
  });

  it('sandboxes every relayed response on top of its own policy', () => {
    const out = responseHeadersForBrowser({ 'content-type': 'text/html', 'content-security-policy': "default-src 'self'", 'transfer-encoding': 'chunked', 'set-cookie': ['a=1', 'tether_session=x'] }, PREFIX, 8080);
    expect(out['content-security-policy']).toEqual(["default-src 'self'", RELAY_SANDBOX_CSP]);
    expect(out['transfer-encoding']).toBeUndefined();
    expect(out['set-cookie']).toEqual([`a=1; Path=${PREFIX}`]);
  });
});
