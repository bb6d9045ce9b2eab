import { z } from 'zod';
import { DeviceId } from './control.js';
import { DeviceFacts } from './device-facts.js';
import { printable } from './printable.js';

export const Role = z.enum(['admin', 'operator', 'viewer']);
export type Role = z.infer<typeof Role>;

// printable() first: a control character gets its own code, not the pattern's BAD_REQUEST.
export const Username = printable(z.string()).min(1).max(64).regex(/^[A-Za-z0-9_.@-]+$/);

export const TagKey = printable(z.string()).min(1).max(64).regex(/^[A-Za-z0-9_.-]+$/);
export const Tags = z.record(TagKey, printable(z.string()).max(256));
export type Tags = z.infer<typeof Tags>;

export const LoginRequest = z.object({
  username: Username,
  password: z.string().min(1).max(1024),
  totp: z.string().regex(/^\d{6}$/).optional(),
  /** One of the ten one-time codes shown when TOTP was enabled, instead of `totp`. */
  recoveryCode: z.string().min(1).max(64).optional(),
});
export type LoginRequest = z.infer<typeof LoginRequest>;

export const User = z.object({ id: z.number().int(), username: Username, role: Role, scope: Tags.nullable().optional() });
export type User = z.infer<typeof User>;

export const LoginResponse = z.object({ token: z.string(), user: User, expiresAt: z.number() });
export type LoginResponse = z.infer<typeof LoginResponse>;

export const DeviceStatus = z.enum(['pending', 'active', 'revoked']);
export type DeviceStatus = z.infer<typeof DeviceStatus>;

export const Device = z.object({
  id: DeviceId,
  name: z.string(),
  status: DeviceStatus,
  online: z.boolean(),
  /** Milliseconds since the epoch, or null if never connected. */
  lastSeen: z.number().nullable(),
  tags: Tags,
  facts: DeviceFacts.nullable(),
  createdAt: z.number(),
});
export type Device = z.infer<typeof Device>;

/** Most devices one page of `GET /api/v1/devices` may ask for. */
export const DEVICE_PAGE_MAX = 5_000;
/** Where the next page of the device list starts: opaque, taken from the previous page's `nextAfter`. */
export const DeviceCursor = z.string().min(1).max(1024);

/**
 * `GET /api/v1/devices` in name order: every device when `limit` is left out, else keyset pages of
 * at most `limit`, each continuing `after` the previous one.
 */
export const DeviceListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(DEVICE_PAGE_MAX).optional(),
  after: DeviceCursor.optional(),
});
export type DeviceListQuery = z.infer<typeof DeviceListQuery>;

/** `nextAfter` is null on the last page. A scoped user's page may hold fewer than `limit` devices, or none. */
export const DeviceList = z.object({ devices: z.array(Device), nextAfter: DeviceCursor.nullable() });
export type DeviceList = z.infer<typeof DeviceList>;

export const TokenCreateRequest = z.object({
  ttlSeconds: z.number().int().positive().max(10 * 365 * 24 * 3600).optional(),
  uses: z.number().int().positive().max(1_000_000).optional(),
  tags: Tags.optional(),
  requireApproval: z.boolean().optional(),
});
export type TokenCreateRequest = z.infer<typeof TokenCreateRequest>;

export const RegistrationToken = z.object({
  id: z.string(),
  createdAt: z.number(),
  expiresAt: z.number().nullable(),
  maxUses: z.number().nullable(),
  uses: z.number(),
  tags: Tags,
  requireApproval: z.boolean(),
  revokedAt: z.number().nullable(),
});
export type RegistrationToken = z.infer<typeof RegistrationToken>;

export const TokenCreateResponse = RegistrationToken.extend({
  /** Shown once; only its hash is stored. */
  token: z.string(),
  caPin: z.string(),
  installCommand: z.string(),
});
export type TokenCreateResponse = z.infer<typeof TokenCreateResponse>;

/** What people call a device; shown in terminals and pages, so never a control character. */
export const DeviceName = printable(z.string()).min(1).max(128);

export const RegisterRequest = z.object({
  token: z.string().min(1).max(256),
  csr: z.string().min(64).max(16384),
  name: DeviceName.optional(),
  facts: DeviceFacts.optional(),
});
export type RegisterRequest = z.infer<typeof RegisterRequest>;

export const RegisterResponse = z.object({
  deviceId: DeviceId,
  status: DeviceStatus,
  certificate: z.string(),
  caCertificate: z.string(),
  telemetryToken: z.string(),
});
export type RegisterResponse = z.infer<typeof RegisterResponse>;

export const CA_PIN_PATTERN = /^sha256:[0-9a-f]{64}$/;
export const CaPin = z.string().regex(CA_PIN_PATTERN, 'sha256:<64 hex>');

/** Devices one bulk request may touch: enough for a whole fleet page, bounded so one request stays one short transaction. */
export const MAX_BULK_DEVICES = 10_000;
const BulkDeviceIds = z.array(DeviceId).min(1).max(MAX_BULK_DEVICES);

/** `POST /api/v1/devices/tags`: sets and/or removes tag keys on every listed device, all or nothing. */
export const DeviceTagsRequest = z
  .object({
    ids: BulkDeviceIds,
    set: Tags.optional(),
    remove: z.array(z.string().min(1).max(64)).max(256).optional(),
  })
  .refine((r) => r.set !== undefined || r.remove !== undefined, 'a tag change needs set or remove');
export type DeviceTagsRequest = z.infer<typeof DeviceTagsRequest>;

/** `POST /api/v1/devices/revoke`: revokes every listed device, all or nothing. */
export const DeviceRevokeRequest = z.object({ ids: BulkDeviceIds });
export type DeviceRevokeRequest = z.infer<typeof DeviceRevokeRequest>;

export const DeviceBulkResponse = z.object({ devices: z.array(Device) });
export type DeviceBulkResponse = z.infer<typeof DeviceBulkResponse>;

/**
 * Which devices a user may see and act on: null for all, or a tag selector (a device is in scope
 * when it carries every one of these tag values).
 */
export const DeviceScope = Tags.nullable();
export type DeviceScope = z.infer<typeof DeviceScope>;

