import { describe, expect, it } from 'vitest';
import { parseTagAssignments, parseTagKeys } from './tag-input.js';

describe('tag input', () => {
  it('parses k=v pairs separated by commas or spaces; a bare key sets an empty value', () => {
    expect(parseTagAssignments('site=paris, rack=r1 lab')).toEqual({ ok: true, tags: { site: 'paris', rack: 'r1', lab: '' } });
    expect(parseTagAssignments('url=a=b')).toEqual({ ok: true, tags: { url: 'a=b' } });
  });

  it('refuses what the backend would refuse', () => {
    expect(parseTagAssignments('  ').ok).toBe(false);
    expect(parseTagAssignments('bad/key=1').ok).toBe(false);
    expect(parseTagAssignments('=value').ok).toBe(false);
    expect(parseTagAssignments(`k=${'v'.repeat(257)}`).ok).toBe(false);
  });

  it('parses keys to remove, ignoring values and duplicates', () => {
    expect(parseTagKeys('site=paris, rack rack')).toEqual(['site', 'rack']);
    expect(parseTagKeys(' ')).toEqual([]);
  });
});
