import { describe, expect, it } from 'vitest';
import { checkJsonDepth } from './json-depth.js';

describe('checkJsonDepth', () => {
  it('accepts JSON up to the limit, brackets inside strings not counted', () => {
    expect(() => checkJsonDepth(`${'['.repeat(64)}${']'.repeat(64)}`)).not.toThrow();
    expect(() => checkJsonDepth(JSON.stringify({ s: '[[[[{{{{\\"'.repeat(100) }), 3)).not.toThrow();
  });

  it('refuses deeper nesting with BAD_REQUEST, without recursion', () => {
    expect(() => checkJsonDepth(`${'['.repeat(65)}${']'.repeat(65)}`)).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
    expect(() => checkJsonDepth(`{"a":${'{"a":'.repeat(1_000_000)}1`)).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
  });
});
