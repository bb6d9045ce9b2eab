import type { Device, DeviceSelection } from '../../protocol/index.js';

/**
 * The active devices a selection names: the union of explicit ids, devices carrying every given
 * tag, and devices whose name, id, host name or a `key=value` tag contains the query
 * (case-insensitive). Explicit ids come first in the order given, then the rest by name.
 */
export function selectDevices(devices: readonly Device[], selection: DeviceSelection): Device[] {
  const active = devices.filter((d) => d.status === 'active');
  const byId = new Map(active.map((d) => [d.id, d]));
  const picked = new Map<string, Device>();
  for (const id of selection.deviceIds ?? []) {
    const d = byId.get(id);
    if (d) picked.set(id, d);
  }
  const tags = selection.tags ? Object.entries(selection.tags) : null;
  const query = selection.query?.toLowerCase() ?? null;
  const rest = active
    .filter((d) => !picked.has(d.id))
    .filter((d) => (tags !== null && tags.every(([k, v]) => d.tags[k] === v)) || (query !== null && matches(d, query)))
    .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  return [...picked.values(), ...rest];
}

function matches(d: Device, query: string): boolean {
  const haystack = [d.name, d.id, d.facts?.hostname ?? '', ...Object.entries(d.tags).map(([k, v]) => `${k}=${v}`)];
  return haystack.some((s) => s.toLowerCase().includes(query));
}
