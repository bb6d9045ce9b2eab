import type { ConfigDiffEntry } from '../../protocol/index.js';
import { canonicalJson, isJsonObject, pointerSegment } from './layer-merge.js';

/**
 * The leaf changes from `before` to `after`, as JSON Pointers. Objects are compared key by key;
 * arrays and scalars as whole values (a reordered list is one change, which is what it is).
 */
export function diffJson(before: unknown, after: unknown, path = ''): ConfigDiffEntry[] {
  if (isJsonObject(before) && isJsonObject(after)) {
    const changes: ConfigDiffEntry[] = [];
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    for (const key of keys) {
      const here = `${path}/${pointerSegment(key)}`;
      if (!Object.hasOwn(after, key)) changes.push({ path: here, kind: 'removed', before: before[key] });
      else if (!Object.hasOwn(before, key)) changes.push({ path: here, kind: 'added', after: after[key] });
      else changes.push(...diffJson(before[key], after[key], here));
    }
    return changes;
  }
  if (canonicalJson(before) === canonicalJson(after)) return [];
  return [{ path, kind: 'changed', before, after }];
}
