import { DeviceId, type Device } from '../protocol/index.js';
import { CliError } from './cli-error.js';

/**
 * The device a command line names: an id, or a name that exactly one device has. A name two
 * devices share is refused (CONFLICT) with their ids, so nothing runs on a guess.
 */
export function pickDevice(devices: readonly Device[], ref: string): Device {
  const byId = devices.find((d) => d.id === ref);
  if (byId) return byId;
  const named = devices.filter((d) => d.name === ref);
  if (named.length === 1 && named[0]) return named[0];
  if (named.length > 1) throw CliError.of('CONFLICT', `${named.length} devices are named ${JSON.stringify(ref)}: use an id (${named.map((d) => d.id).join(', ')})`);
  throw CliError.of('DEVICE_UNKNOWN', `No device has the id or name ${JSON.stringify(ref)}`);
}

export function looksLikeDeviceId(ref: string): boolean {
  return DeviceId.safeParse(ref).success;
}

/**
 * The devices `--query` keeps: those whose name, id, host name or a `key=value` tag contains
 * the query, case-insensitive. The same test the backend applies to a job's `selection.query`,
 * so `tether devices --query Q` shows what `tether jobs run --query Q` would touch (jobs skip
 * pending and revoked devices).
 */
export function matchesQuery(device: Device, query: string): boolean {
  const q = query.toLowerCase();
  const haystack = [device.name, device.id, device.facts?.hostname ?? '', ...Object.entries(device.tags).map(([k, v]) => `${k}=${v}`)];
  return haystack.some((s) => s.toLowerCase().includes(q));
}
