import { z } from 'zod';
import { Device, User } from './api.js';
import { DeviceId, WireError } from './control.js';
import { MonitoringClientMessage, MonitoringServerMessage } from './monitoring.js';

/** Messages the backend pushes to a console over `/api/v1/console`. */
export const ConsoleServerMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), user: User }),
  z.object({
    type: z.literal('device.status'),
    id: DeviceId,
    online: z.boolean(),
    lastSeen: z.number().nullable(),
  }),
  z.object({ type: z.literal('device.upsert'), device: Device }),
  z.object({ type: z.literal('device.removed'), id: DeviceId }),
  z.object({
    type: z.literal('device.response'),
    id: z.number().int(),
    ok: z.boolean(),
    result: z.unknown().optional(),
    error: WireError.optional(),
  }),
  ...MonitoringServerMessage.options,
]);
export type ConsoleServerMessage = z.infer<typeof ConsoleServerMessage>;

/** Messages a console sends. Only methods in {@link CONSOLE_DEVICE_METHODS} may be relayed to a device. */
export const ConsoleClientMessage = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('device.request'),
    id: z.number().int().nonnegative(),
    deviceId: DeviceId,
    method: z.string().max(128),
    params: z.unknown(),
  }),
  ...MonitoringClientMessage.options,
]);
export type ConsoleClientMessage = z.infer<typeof ConsoleClientMessage>;

export const CONSOLE_DEVICE_METHODS = ['system.echo', 'system.info'] as const;
