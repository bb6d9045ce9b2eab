import { describe, expect, it } from 'vitest';
import { tokenState } from './token-state.js';

const base = { revokedAt: null, expiresAt: null, maxUses: null, uses: 0 };

describe('tokenState', () => {
  it('says why a token can no longer enrol a device', () => {
    expect(tokenState(base, 1000)).toBe('active');
    expect(tokenState({ ...base, maxUses: 1, uses: 1 }, 1000)).toBe('used up');
    expect(tokenState({ ...base, maxUses: 2, uses: 1 }, 1000)).toBe('active');
    expect(tokenState({ ...base, expiresAt: 1000 }, 1000)).toBe('expired');
    expect(tokenState({ ...base, expiresAt: 1000, maxUses: 1, uses: 1, revokedAt: 5 }, 2000)).toBe('revoked');
  });
});
