import { missingCase, type ConsoleServerMessage, type User } from '../../protocol/index.js';
import type { DeviceAccess } from './device-access.js';
import { inScope } from './device-scope.js';

/**
 * A console message as a scoped user may see it: null when it is about a device outside the
 * scope, lists narrowed to the scope. Unscoped users get every message unchanged.
 */
export function scopeConsoleMessage(access: DeviceAccess, user: User, msg: ConsoleServerMessage): ConsoleServerMessage | null {
  if (!user.scope) return msg;
  switch (msg.type) {
    case 'ready':
    case 'device.response':
      return msg;
    case 'device.status':
    case 'device.removed':
      // A removed device has no tags left to check; a scoped console learns nothing about ids it never saw.
      return msg.type === 'device.status' && access.sees(user, msg.id) ? msg : null;
    case 'device.upsert':
      return inScope(user.scope, msg.device.tags) ? msg : null;
    case 'metrics.samples':
      return access.sees(user, msg.deviceId) ? msg : null;
    case 'metrics.latest':
      return { ...msg, devices: Object.fromEntries(Object.entries(msg.devices).filter(([id]) => access.sees(user, id))) };
    case 'logs.lines': {
      const lines = access.filter(user, msg.lines, (l) => l.deviceId);
      return lines.length > 0 ? { ...msg, lines } : null;
    }
    case 'alert.event':
      return access.sees(user, msg.event.deviceId) ? msg : null;
    default:
      return missingCase(msg);
  }
}
