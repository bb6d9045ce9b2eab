import type { DeviceScope, Role, User, UserInfo } from '../../protocol/index.js';

export interface NewUser {
  username: string;
  passwordHash: string;
  role: Role;
  scope: DeviceScope;
  createdAt: number;
}

/** A user with what logging in checks: the password hash and the second factor's secrets. */
export interface UserCredentials {
  user: User;
  passwordHash: string;
  /** Set once TOTP is enabled. */
  totpSecret: string | null;
  /** Set between TOTP setup and its confirmation. */
  totpPendingSecret: string | null;
}

/** What one edit changes; unset fields stay as they are. */
export interface UserEdit {
  role?: Role;
  scope?: DeviceScope;
  passwordHash?: string;
}

/** Why an edit or a deletion did not happen. */
export type UserEditRefusal = 'NOT_FOUND' | 'LAST_ADMIN';

export interface NewSession {
  tokenHash: Buffer;
  userId: number;
  createdAt: number;
  expiresAt: number;
}

/** A live session row with its user as they are now. */
export interface SessionOwner {
  user: User;
  expiresAt: number;
  lastSeenAt: number;
}

/** Users, their login sessions and their second factor (TOTP secret, one-time recovery codes). */
export interface UserStore {
  count(): Promise<number>;
  /** USERNAME_TAKEN from the unique constraint, so two concurrent adds of one name create one user. */
  insert(user: NewUser): Promise<UserInfo | 'USERNAME_TAKEN'>;
  /** By username. */
  list(): Promise<UserInfo[]>;
  find(id: number): Promise<UserInfo | undefined>;
  credentials(username: string): Promise<UserCredentials | undefined>;
  credentialsById(id: number): Promise<UserCredentials | undefined>;
  /**
   * Applies an edit in one UPDATE and returns the row as it now is. A demotion of the last admin
   * is refused; role changes and deletions are serialised so that two admins demoting each other
   * at once cannot both succeed.
   */
  update(id: number, edit: UserEdit): Promise<UserInfo | UserEditRefusal>;
  /** Deletes a user (sessions and recovery codes go with it); never the last admin. Returns the user as it was. */
  remove(id: number): Promise<UserInfo | UserEditRefusal>;

  /**
   * Opens a session only while the user still has `passwordHash`: a login that checked a password
   * being changed at the same moment opens nothing, so a password change ends every session.
   * False when the user is gone or the hash changed.
   */
  openSession(session: NewSession, passwordHash: string): Promise<boolean>;
  findSession(tokenHash: Buffer): Promise<SessionOwner | undefined>;
  /** Moves last_seen_at forward to `at` (never back). */
  touchSession(tokenHash: Buffer, at: number): Promise<void>;
  /** Ends one session; returns its user's id, or undefined when there was none. */
  endSession(tokenHash: Buffer): Promise<number | undefined>;
  /** Ends every session of a user; returns how many. */
  endSessions(userId: number): Promise<number>;

  /** Stores a pending TOTP secret; false when the user is unknown or already has TOTP enabled. */
  setPendingTotp(userId: number, secret: string): Promise<boolean>;
  /**
   * Turns the pending secret `pendingSecret` into the live one, marks `step` used and replaces the
   * recovery codes. False when TOTP got enabled meanwhile or the pending secret changed.
   */
  enableTotp(userId: number, pendingSecret: string, step: number, recoveryCodeHashes: readonly Buffer[]): Promise<boolean>;
  /** Turns TOTP off and drops the recovery codes; false unless `secret` is still the live secret. */
  disableTotp(userId: number, secret: string): Promise<boolean>;
  /**
   * Accepts a TOTP step only if it is newer than the last accepted one (a conditional UPDATE), so
   * of two logins with one code exactly one wins, on any engine. False when it was not newer.
   */
  useTotpStep(userId: number, secret: string, step: number): Promise<boolean>;
  /** Spends an unused recovery code (UPDATE ... WHERE used_at IS NULL); false when unknown or already used. */
  useRecoveryCode(userId: number, codeHash: Buffer, at: number): Promise<boolean>;
}
