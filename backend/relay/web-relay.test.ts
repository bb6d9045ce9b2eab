import { describe, expect, it } from 'vitest';
import { relayTarget } from './web-relay.js';

const DEV = 'dev_abcdefghijklmnopqrstu';
const GRANT = 'g'.repeat(43);

describe('relayTarget', () => {
  it('splits device, port, grant and the path on the device (query kept)', () => {
    expect(relayTarget(`/relay/${DEV}/8080/${GRANT}/app/x.js?v=2`)).toEqual({ deviceId: DEV, port: 8080, token: GRANT, prefix: `/relay/${DEV}/8080/${GRANT}/`, path: '/app/x.js?v=2' });
    expect(relayTarget(`/relay/${DEV}/8080/${GRANT}/`)).toMatchObject({ token: GRANT, path: '/' });
  });

  it('sends a grant without its trailing slash to the slashed URL, so relative links resolve under it', () => {
    expect(relayTarget(`/relay/${DEV}/8080/${GRANT}`)).toBe('redirect');
  });

  it('has no grant for a missing or malformed token (the relay answers UNAUTHORIZED)', () => {
    expect(relayTarget(`/relay/${DEV}/8080/`)).toMatchObject({ token: null });
    expect(relayTarget(`/relay/${DEV}/8080/short/x`)).toMatchObject({ token: null });
  });

  it('is not the relay for other URLs, bad device ids or ports', () => {
    expect(relayTarget('/api/v1/devices')).toBeNull();
    expect(relayTarget(`/relay/not-a-device/8080/${GRANT}/`)).toBeNull();
    expect(relayTarget(`/relay/${DEV}/0/${GRANT}/`)).toBeNull();
    expect(relayTarget(`/relay/${DEV}/70000/${GRANT}/`)).toBeNull();
  });
});
