import { describe, expect, it } from 'vitest';
import { natsConnectOptions, redactNatsUrl } from './nats-url.js';

describe('natsConnectOptions', () => {
  it('splits credentials off the URL and keeps several servers', () => {
    expect(natsConnectOptions('nats://127.0.0.1:4222')).toEqual({ servers: ['nats://127.0.0.1:4222'] });
    expect(natsConnectOptions('nats://tether:p%40ss@nats-1:4222, nats://nats-2:4222')).toEqual({ servers: ['nats://nats-1:4222', 'nats://nats-2:4222'], user: 'tether', pass: 'p@ss' });
  });

  it('refuses what is not a nats:// URL with BAD_REQUEST, without echoing a password', () => {
    expect(() => natsConnectOptions('http://host:4222')).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
    expect(() => natsConnectOptions(' , ')).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
    expect(redactNatsUrl('nats://u:secret@a:4222,nats://v:other@b:4222')).toBe('nats://u:***@a:4222,nats://v:***@b:4222');
  });
});
