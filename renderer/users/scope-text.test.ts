import { describe, expect, it } from 'vitest';
import { parseScopeText, scopeText } from './scope-text.js';

describe('scope text', () => {
  it('parses key=value lists, empty as all devices, and explains bad input', () => {
    expect(parseScopeText('site=berlin, env=prod')).toEqual({ site: 'berlin', env: 'prod' });
    expect(parseScopeText('  ')).toBeNull();
    expect(parseScopeText('site')).toMatch(/key=value/);
    expect(parseScopeText('bad key!=x')).toMatch(/key=value|Tag keys/);
    expect(scopeText({ site: 'berlin' })).toBe('site=berlin');
    expect(scopeText(null)).toBe('');
  });
});
