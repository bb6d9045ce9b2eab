import { TetherError, type Device, type User } from '../../protocol/index.js';
import { inScope } from './device-scope.js';

/** What DeviceAccess needs of the inventory: a device's tags, or undefined when it is not enrolled. */
export interface DeviceTagsLookup {
  tagsOf(deviceId: string): Device['tags'] | undefined;
}

/**
 * The one place a user's device scope is applied. Every route or socket message that names a
 * device goes through {@link require}; every list of devices through {@link filter}.
 */
export class DeviceAccess {
  constructor(private readonly devices: DeviceTagsLookup) {}

  sees(user: User, deviceId: string): boolean {
    const tags = this.devices.tagsOf(deviceId);
    return tags !== undefined && inScope(user.scope, tags);
  }

  /**
   * DEVICE_UNKNOWN for an id that is not enrolled. A scoped user gets NOT_FOUND both for an
   * unknown id and for a device outside the scope, so the answer does not reveal which exists.
   */
  require(user: User, deviceId: string): void {
    const tags = this.devices.tagsOf(deviceId);
    if (user.scope) {
      if (tags === undefined || !inScope(user.scope, tags)) throw new TetherError('NOT_FOUND', 'No such device');
    } else if (tags === undefined) {
      throw new TetherError('DEVICE_UNKNOWN');
    }
  }

  /** The items whose device the user may see (everything for an unscoped user). */
  filter<T>(user: User, items: readonly T[], deviceIdOf: (item: T) => string): T[] {
    if (!user.scope) return [...items];
    return items.filter((item) => this.sees(user, deviceIdOf(item)));
  }
}
