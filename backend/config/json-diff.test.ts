import { describe, expect, it } from 'vitest';
import { diffJson } from './json-diff.js';

describe('diffJson', () => {
  it('lists added, removed and changed leaves as JSON Pointers', () => {
    expect(diffJson({ a: 1, b: { c: 2, d: [1] }, 'x/y': 1 }, { a: 1, b: { c: 3, e: true }, 'x/y': 2 })).toEqual([
      { path: '/b/c', kind: 'changed', before: 2, after: 3 },
      { path: '/b/d', kind: 'removed', before: [1] },
      { path: '/b/e', kind: 'added', after: true },
      { path: '/x~1y', kind: 'changed', before: 1, after: 2 },
    ]);
  });

  it('treats arrays as whole values and equal documents as no change', () => {
    expect(diffJson({ l: [1, 2] }, { l: [2, 1] })).toEqual([{ path: '/l', kind: 'changed', before: [1, 2], after: [2, 1] }]);
    expect(diffJson({ a: { b: 1, c: 2 } }, { a: { c: 2, b: 1 } })).toEqual([]);
  });
});
