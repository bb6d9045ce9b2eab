import type { RegistrationToken, Tags } from '../../protocol/index.js';

export interface NewToken {
  id: string;
  secretHash: Buffer;
  createdAt: number;
  expiresAt: number | null;
  maxUses: number | null;
  tags: Tags;
  requireApproval: boolean;
  createdBy: string;
}

/** Why a token could not be spent, when it could not. */
export type SpendRefusal = 'TOKEN_INVALID' | 'TOKEN_REVOKED' | 'TOKEN_EXPIRED' | 'TOKEN_USED_UP';

/** Registration tokens, stored by the hash of their secret. */
export interface TokenStore {
  insert(token: NewToken): Promise<void>;
  find(id: string): Promise<RegistrationToken | undefined>;
  /** Newest first. */
  list(): Promise<RegistrationToken[]>;
  /** Marks a live token revoked; false when it is unknown or already revoked. */
  revoke(id: string, at: number): Promise<boolean>;
  /**
   * Spends one use in a single conditional update, so concurrent enrolments on a token with one
   * use left spend it once between them, on any engine. Returns the token as spent, or why not.
   */
  spend(secretHash: Buffer, now: number): Promise<RegistrationToken | SpendRefusal>;
}
