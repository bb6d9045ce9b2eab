import { describe, expect, it } from 'vitest';
import type { Device } from '../protocol/index.js';
import { CliError } from './cli-error.js';
import { matchesQuery, pickDevice } from './device-ref.js';

const device = (id: string, name: string, tags: Record<string, string> = {}): Device => ({
  id, name, tags, status: 'active', online: true, lastSeen: null, facts: null, createdAt: 0,
});
const fleet = [device('dev_aaaaaaaaaaaaaaaaaaaa', 'robot-1', { site: 'lab' }), device('dev_bbbbbbbbbbbbbbbbbbbb', 'twin'), device('dev_cccccccccccccccccccc', 'twin')];

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof CliError ? err.code : 'not a CliError';
  }
  return undefined;
}

describe('pickDevice', () => {
  it('takes an id or a unique name', () => {
    expect(pickDevice(fleet, 'dev_cccccccccccccccccccc').id).toBe('dev_cccccccccccccccccccc');
    expect(pickDevice(fleet, 'robot-1').id).toBe('dev_aaaaaaaaaaaaaaaaaaaa');
  });

  it('refuses a shared name with CONFLICT and an unknown one with DEVICE_UNKNOWN', () => {
    expect(codeOf(() => pickDevice(fleet, 'twin'))).toBe('CONFLICT');
    expect(codeOf(() => pickDevice(fleet, 'robot'))).toBe('DEVICE_UNKNOWN');
  });
});

describe('matchesQuery (the backend job selection test)', () => {
  it('matches name, id and key=value tags, case-insensitive', () => {
    expect(fleet.filter((d) => matchesQuery(d, 'ROBOT')).map((d) => d.name)).toEqual(['robot-1']);
    expect(fleet.filter((d) => matchesQuery(d, 'site=lab'))).toHaveLength(1);
    expect(fleet.filter((d) => matchesQuery(d, 'dev_b'))).toHaveLength(1);
    expect(fleet.filter((d) => matchesQuery(d, 'nothing'))).toHaveLength(0);
  });
});
