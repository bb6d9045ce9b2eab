import { z } from 'zod';
import { DeviceScope, Role, Username } from './api.js';

/** A user as admins see it in the users list. */
export const UserInfo = z.object({
  id: z.number().int(),
  username: Username,
  role: Role,
  scope: DeviceScope,
  totpEnabled: z.boolean(),
  createdAt: z.number(),
});
export type UserInfo = z.infer<typeof UserInfo>;

export const UserList = z.object({ users: z.array(UserInfo) });
export type UserList = z.infer<typeof UserList>;

export const Password = z.string().min(8).max(1024);

export const UserCreateRequest = z.object({ username: Username, password: Password, role: Role, scope: DeviceScope.optional() });
export type UserCreateRequest = z.infer<typeof UserCreateRequest>;

export const UserUpdateRequest = z
  .object({ role: Role.optional(), scope: DeviceScope.optional(), password: Password.optional() })
  .refine((u) => u.role !== undefined || u.scope !== undefined || u.password !== undefined, 'nothing to change');
export type UserUpdateRequest = z.infer<typeof UserUpdateRequest>;

export const TotpCode = z.string().regex(/^\d{6}$/);

export const TotpSetupResponse = z.object({ secret: z.string(), otpauthUrl: z.string() });
export type TotpSetupResponse = z.infer<typeof TotpSetupResponse>;
export const TotpEnableRequest = z.object({ code: TotpCode });
export const TotpEnableResponse = z.object({ recoveryCodes: z.array(z.string()) });
export type TotpEnableResponse = z.infer<typeof TotpEnableResponse>;
export const TotpDisableRequest = z.object({ code: z.string().min(1).max(64) });

/** The account of the logged-in user (Account settings). */
export const AccountInfo = z.object({ user: UserInfo });
export type AccountInfo = z.infer<typeof AccountInfo>;

const Millis = z.coerce.number().int().nonnegative();

/** Filters of the audit view and export; `before` is the keyset cursor (an entry id). */
export const AuditQuery = z.object({
  actor: z.string().max(128).optional(),
  action: z.string().max(128).optional(),
  target: z.string().max(256).optional(),
  since: Millis.optional(),
  until: Millis.optional(),
  before: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
export type AuditQuery = z.infer<typeof AuditQuery>;
export type AuditQueryInput = z.input<typeof AuditQuery>;

export const AuditEntry = z.object({
  id: z.number().int(),
  ts: z.number(),
  actor: z.string(),
  action: z.string(),
  target: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
});
export type AuditEntry = z.infer<typeof AuditEntry>;

/** `nextBefore` is null on the last page. */
export const AuditPage = z.object({ entries: z.array(AuditEntry), nextBefore: z.number().int().nullable() });
export type AuditPage = z.infer<typeof AuditPage>;
