import { describe, expect, it } from 'vitest';
import type { Device } from '../../protocol/index.js';
import { DEFAULT_SORT, EMPTY_QUERY, dependsOnPresence, deviceMatcher, parseTagFilter, visibleIds, type FleetQuery } from './fleet-query.js';

const id = (n: number) => `dev_${String(n).padStart(20, '0')}`;
const facts = { hostname: 'h', platform: 'linux', arch: 'arm64', release: '6.1', cpus: 4, memoryBytes: 1, agentVersion: '0.1.0' };
function device(n: number, overrides: Partial<Device> = {}): Device {
  return { id: id(n), name: `robot-${n}`, status: 'active', online: false, lastSeen: null, tags: {}, facts: null, createdAt: 0, ...overrides };
}

const fleet = [
  device(1, { online: true, lastSeen: 300, tags: { site: 'paris', rack: 'r1' }, facts }),
  device(2, { lastSeen: 100, tags: { site: 'lyon' } }),
  device(3, { status: 'pending', tags: { site: 'paris' } }),
  device(4, { status: 'revoked', lastSeen: 200, facts: { ...facts, platform: 'darwin' } }),
];
const byId = new Map(fleet.map((d) => [d.id, d]));
const ids = fleet.map((d) => d.id);
const shown = (query: Partial<FleetQuery>, sort = DEFAULT_SORT) => visibleIds(byId, ids, { ...EMPTY_QUERY, ...query }, sort).map((i) => byId.get(i)?.name);

describe('fleet query', () => {
  it('returns the store order itself for no query and the name order', () => {
    expect(visibleIds(byId, ids, EMPTY_QUERY, DEFAULT_SORT)).toBe(ids);
  });

  it('searches name, id, tag keys and values and platform, every word, ignoring case', () => {
    expect(shown({ text: 'ROBOT-2' })).toEqual(['robot-2']);
    expect(shown({ text: id(3) })).toEqual(['robot-3']);
    expect(shown({ text: 'paris' })).toEqual(['robot-1', 'robot-3']);
    expect(shown({ text: 'rack=r1' })).toEqual(['robot-1']);
    expect(shown({ text: 'darwin' })).toEqual(['robot-4']);
    expect(shown({ text: 'paris linux' })).toEqual(['robot-1']);
    expect(shown({ text: 'nowhere' })).toEqual([]);
  });

  it('filters by presence and by enrolment status', () => {
    expect(shown({ status: 'online' })).toEqual(['robot-1']);
    expect(shown({ status: 'offline' })).toEqual(['robot-2', 'robot-3', 'robot-4']);
    expect(shown({ status: 'pending' })).toEqual(['robot-3']);
    expect(shown({ status: 'revoked' })).toEqual(['robot-4']);
  });

  it('filters by tag key or key=value, combined with the search', () => {
    expect(parseTagFilter(' site = paris ')).toEqual({ key: 'site', value: 'paris' });
    expect(parseTagFilter('  ')).toBeNull();
    expect(shown({ tag: 'site=paris' })).toEqual(['robot-1', 'robot-3']);
    expect(shown({ tag: 'rack' })).toEqual(['robot-1']);
    expect(shown({ tag: 'site=paris', status: 'pending' })).toEqual(['robot-3']);
    expect(shown({ tag: 'site=' })).toEqual([]);
  });

  it('sorts by a column, both ways, keeping the name order among ties', () => {
    expect(shown({}, { key: 'name', descending: true })).toEqual(['robot-4', 'robot-3', 'robot-2', 'robot-1']);
    expect(shown({}, { key: 'status', descending: false })).toEqual(['robot-1', 'robot-2', 'robot-3', 'robot-4']);
    expect(shown({}, { key: 'status', descending: true })).toEqual(['robot-2', 'robot-3', 'robot-4', 'robot-1']);
    expect(shown({}, { key: 'lastSeen', descending: true })).toEqual(['robot-1', 'robot-4', 'robot-2', 'robot-3']);
    expect(shown({}, { key: 'enrolment', descending: false })).toEqual(['robot-1', 'robot-2', 'robot-3', 'robot-4']);
  });

  it('sees a replaced entry (the search text is cached per device object)', () => {
    const matches = deviceMatcher({ ...EMPTY_QUERY, text: 'berlin' });
    const before = device(5);
    expect(matches(before)).toBe(false);
    expect(matches({ ...before, tags: { site: 'berlin' } })).toBe(true);
  });

  it('knows which queries live status events can change', () => {
    expect(dependsOnPresence(EMPTY_QUERY, DEFAULT_SORT)).toBe(false);
    expect(dependsOnPresence({ ...EMPTY_QUERY, text: 'x' }, DEFAULT_SORT)).toBe(false);
    expect(dependsOnPresence({ ...EMPTY_QUERY, status: 'online' }, DEFAULT_SORT)).toBe(true);
    expect(dependsOnPresence(EMPTY_QUERY, { key: 'lastSeen', descending: false })).toBe(true);
  });

  it('filters and sorts 10,000 devices quickly', () => {
    const many = Array.from({ length: 10_000 }, (_, n) => device(n, { online: n % 3 === 0, lastSeen: n, tags: { site: n % 2 ? 'a' : 'b' } }));
    const map = new Map(many.map((d) => [d.id, d]));
    const order = many.map((d) => d.id);
    const started = performance.now();
    const result = visibleIds(map, order, { text: 'robot', status: 'online', tag: 'site=a' }, { key: 'lastSeen', descending: true });
    expect(performance.now() - started).toBeLessThan(200);
    expect(result.length).toBe(many.filter((d) => d.online && d.tags.site === 'a').length);
  });
});
