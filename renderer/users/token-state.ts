import type { RegistrationToken } from '../../protocol/index.js';

export type TokenState = 'revoked' | 'expired' | 'used up' | 'active';

/** Whether a registration token can still enrol a device, and if not, why (revoked first: an admin's act). */
export function tokenState(token: Pick<RegistrationToken, 'revokedAt' | 'expiresAt' | 'maxUses' | 'uses'>, now: number): TokenState {
  if (token.revokedAt !== null) return 'revoked';
  if (token.expiresAt !== null && token.expiresAt <= now) return 'expired';
  if (token.maxUses !== null && token.uses >= token.maxUses) return 'used up';
  return 'active';
}
