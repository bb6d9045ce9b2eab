import type { Device } from '../../protocol/index.js';

/** Which devices the table shows: a free-text search, one status and one tag (`k` or `k=v`). */
export interface FleetQuery {
  text: string;
  status: StatusFilter;
  tag: string;
}

export const STATUS_FILTERS = ['all', 'online', 'offline', 'pending', 'revoked'] as const;
export type StatusFilter = (typeof STATUS_FILTERS)[number];

export const SORT_KEYS = ['name', 'status', 'enrolment', 'lastSeen', 'platform'] as const;
export type SortKey = (typeof SORT_KEYS)[number];
export interface FleetSort {
  key: SortKey;
  descending: boolean;
}

export const EMPTY_QUERY: FleetQuery = { text: '', status: 'all', tag: '' };
export const DEFAULT_SORT: FleetSort = { key: 'name', descending: false };

/** `platform arch · agent version`, as the table shows it; also what the search matches. */
export function describePlatform({ facts }: Device): string {
  return facts === null ? '—' : `${facts.platform} ${facts.arch} · agent ${facts.agentVersion}`;
}

/** Splits `k=v` (or a bare `k`, which matches any value) into its parts; null for an empty filter. */
export function parseTagFilter(tag: string): { key: string; value: string | null } | null {
  const trimmed = tag.trim();
  if (trimmed === '') return null;
  const eq = trimmed.indexOf('=');
  return eq < 0 ? { key: trimmed, value: null } : { key: trimmed.slice(0, eq).trim(), value: trimmed.slice(eq + 1).trim() };
}

/** True when the query shows every device, so the table can use the store's own order as is. */
export function isEmptyQuery(query: FleetQuery): boolean {
  return query.text.trim() === '' && query.status === 'all' && parseTagFilter(query.tag) === null;
}

/**
 * A predicate for the query. Every whitespace-separated search word must appear (case-insensitive)
 * in the name, the id, a tag key or value, or the platform.
 */
export function deviceMatcher(query: FleetQuery): (device: Device) => boolean {
  const words = query.text.toLowerCase().split(/\s+/).filter(Boolean);
  const tag = parseTagFilter(query.tag);
  const { status } = query;
  return (device) => {
    switch (status) {
      case 'all':
        break;
      case 'online':
        if (!device.online) return false;
        break;
      case 'offline':
        if (device.online) return false;
        break;
      case 'pending':
      case 'revoked':
        if (device.status !== status) return false;
        break;
    }
    if (tag !== null) {
      const value = device.tags[tag.key];
      if (value === undefined || (tag.value !== null && value !== tag.value)) return false;
    }
    if (words.length === 0) return true;
    const haystack = searchText(device);
    return words.every((word) => haystack.includes(word));
  };
}

/** Memoised per device object: entries are replaced, never mutated, so identity marks a change. */
const haystacks = new WeakMap<Device, string>();
function searchText(device: Device): string {
  let text = haystacks.get(device);
  if (text === undefined) {
    const tags = Object.entries(device.tags).map(([k, v]) => `${k}=${v}`).join(' ');
    text = `${device.name}\n${device.id}\n${tags}\n${describePlatform(device)}`.toLowerCase();
    haystacks.set(device, text);
  }
  return text;
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
const STATUS_RANK = { online: 0, offline: 1 } as const;

function compareKey(key: SortKey, a: Device, b: Device): number {
  switch (key) {
    case 'name':
      return 0;
    case 'status':
      return STATUS_RANK[a.online ? 'online' : 'offline'] - STATUS_RANK[b.online ? 'online' : 'offline'];
    case 'enrolment':
      return collator.compare(a.status, b.status);
    case 'lastSeen':
      // Never seen sorts as the oldest.
      return (a.lastSeen ?? -1) - (b.lastSeen ?? -1);
    case 'platform':
      return collator.compare(describePlatform(a), describePlatform(b));
  }
}

/**
 * The ids the table shows, in order. `ids` is the store's name order, so sorting by another key is a
 * stable sort of it (ties stay by name) and sorting by name needs no comparison at all.
 */
export function visibleIds(byId: ReadonlyMap<string, Device>, ids: readonly string[], query: FleetQuery, sort: FleetSort): readonly string[] {
  if (isEmptyQuery(query) && sort.key === 'name' && !sort.descending) return ids;
  const matches = deviceMatcher(query);
  const devices: Device[] = [];
  for (const id of ids) {
    const device = byId.get(id);
    if (device !== undefined && matches(device)) devices.push(device);
  }
  if (sort.key === 'name') {
    const out = devices.map((d) => d.id);
    return sort.descending ? out.reverse() : out;
  }
  const direction = sort.descending ? -1 : 1;
  devices.sort((a, b) => direction * compareKey(sort.key, a, b));
  return devices.map((d) => d.id);
}

/** True when the result depends on presence, so live status events must refresh it. */
export function dependsOnPresence(query: FleetQuery, sort: FleetSort): boolean {
  return query.status === 'online' || query.status === 'offline' || sort.key === 'status' || sort.key === 'lastSeen';
}
