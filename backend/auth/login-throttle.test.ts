import { describe, expect, it } from 'vitest';
import { LoginThrottle, LoginThrottledError } from './login-throttle.js';

async function refusal(p: Promise<void>): Promise<LoginThrottledError | null> {
  try {
    await p;
    return null;
  } catch (err) {
    if (err instanceof LoginThrottledError) return err;
    throw err;
  }
}

describe('LoginThrottle', () => {
  it('refuses a username+address after its failures, with the seconds to wait; other users and addresses go on', async () => {
    const throttle = new LoginThrottle({ perUserIp: 3, perIp: 100, windowS: 900 });
    for (let i = 0; i < 3; i++) {
      expect(await refusal(throttle.check('alice', '10.0.0.1'))).toBeNull();
      await throttle.failed('alice', '10.0.0.1');
    }
    const refused = await refusal(throttle.check('alice', '10.0.0.1'));
    expect(refused?.code).toBe('RATE_LIMITED');
    expect(refused?.retryAfterS).toBeGreaterThan(890);
    expect(refused?.retryAfterS).toBeLessThanOrEqual(900);
    // Usernames are compared case-insensitively, so ALICE is the same counter.
    expect(await refusal(throttle.check('ALICE', '10.0.0.1'))).not.toBeNull();
    expect(await refusal(throttle.check('alice', '10.0.0.2'))).toBeNull();
    expect(await refusal(throttle.check('bob', '10.0.0.1'))).toBeNull();
  });

  it('refuses an address that sprays many usernames', async () => {
    const throttle = new LoginThrottle({ perUserIp: 5, perIp: 4, windowS: 60 });
    for (let i = 0; i < 4; i++) await throttle.failed(`user${i}`, '10.0.0.9');
    expect((await refusal(throttle.check('someone-new', '10.0.0.9')))?.code).toBe('RATE_LIMITED');
    expect(await refusal(throttle.check('someone-new', '10.0.0.10'))).toBeNull();
  });

  it('a success clears the username+address counter', async () => {
    const throttle = new LoginThrottle({ perUserIp: 2, perIp: 100, windowS: 60 });
    await throttle.failed('alice', 'a');
    await throttle.succeeded('alice', 'a');
    await throttle.failed('alice', 'a');
    expect(await refusal(throttle.check('alice', 'a'))).toBeNull();
    await throttle.failed('alice', 'a');
    expect(await refusal(throttle.check('alice', 'a'))).not.toBeNull();
  });
});
