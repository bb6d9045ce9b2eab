import { describe, expect, it } from 'vitest';
import type { Device } from '../../protocol/index.js';
import { selectDevices } from './device-selection.js';

const device = (id: string, name: string, tags: Record<string, string> = {}, status: Device['status'] = 'active'): Device => ({
  id, name, tags, status, online: true, lastSeen: null, facts: null, createdAt: 0,
});

const fleet = [
  device('dev_c', 'charlie', { site: 'paris', role: 'arm' }),
  device('dev_a', 'alpha', { site: 'paris' }),
  device('dev_b', 'bravo', { site: 'lyon', role: 'arm' }),
  device('dev_r', 'revoked-paris', { site: 'paris' }, 'revoked'),
];

describe('selectDevices', () => {
  it('unions ids (in the given order), all-tags matches and the query, without duplicates or inactive devices', () => {
    const ids = (s: Parameters<typeof selectDevices>[1]) => selectDevices(fleet, s).map((d) => d.id);
    expect(ids({ deviceIds: ['dev_c', 'dev_a', 'dev_r'] })).toEqual(['dev_c', 'dev_a']);
    expect(ids({ tags: { site: 'paris', role: 'arm' } })).toEqual(['dev_c']);
    expect(ids({ tags: { site: 'paris' } })).toEqual(['dev_a', 'dev_c']);
    expect(ids({ query: 'ROLE=ARM' })).toEqual(['dev_b', 'dev_c']);
    expect(ids({ deviceIds: ['dev_b'], query: 'a' })).toEqual(['dev_b', 'dev_a', 'dev_c']);
    expect(ids({ query: 'nothing' })).toEqual([]);
  });
});
