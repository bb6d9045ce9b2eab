import { z } from 'zod';
import { DeviceId, TetherError } from '../../protocol/index.js';
import type { DeviceListPosition } from './device-store.js';

/** What a cursor carries: the last device of the previous page, as `[name, id]`. */
const Position = z.tuple([z.string(), DeviceId]);

/**
 * Device list cursors: base64url JSON of the position, so a page continues after the device it
 * ended with even when that device is renamed or removed meanwhile. Clients treat them as opaque.
 */
export function encodeDeviceCursor(position: DeviceListPosition): string {
  return Buffer.from(JSON.stringify([position.name, position.id])).toString('base64url');
}

/** The position a cursor names; BAD_REQUEST for anything this backend did not hand out. */
export function decodeDeviceCursor(cursor: string): DeviceListPosition {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    json = undefined;
  }
  const parsed = Position.safeParse(json);
  if (!parsed.success) throw new TetherError('BAD_REQUEST', 'The device list cursor is not valid');
  const [name, id] = parsed.data;
  return { name, id };
}
