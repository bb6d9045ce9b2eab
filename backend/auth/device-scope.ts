import type { DeviceScope, Tags } from '../../protocol/index.js';

/** True when a device with these tags is visible to a user with this scope (null: every device). */
export function inScope(scope: DeviceScope | undefined, tags: Tags): boolean {
  if (!scope) return true;
  for (const [key, value] of Object.entries(scope)) if (tags[key] !== value) return false;
  return true;
}
