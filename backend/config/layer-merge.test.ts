import { describe, expect, it } from 'vitest';
import { CONFIG_MAX_DEPTH, TetherError, type ConfigLayer } from '../../protocol/index.js';
import { canonicalJson, checkDepth, layerApplies, mergeForDevice, orderLayers } from './layer-merge.js';

const DEV = 'dev_aaaaaaaaaaaaaaaaaaaa';
const layer = (id: string, values: ConfigLayer['values'], extra: Partial<ConfigLayer> = {}): ConfigLayer => ({
  id, kind: id === 'fleet' ? 'fleet' : id.startsWith('group:') ? 'group' : 'device', selector: {}, priority: 0, values, version: 1, updatedAt: 0, updatedBy: 'x', ...extra,
});

describe('layer merge', () => {
  it('selects groups by every tag of their selector, device layers by id', () => {
    const group = layer('group:a', {}, { selector: { site: 'a', role: 'edge' } });
    expect(layerApplies(group, DEV, { site: 'a', role: 'edge', extra: '1' })).toBe(true);
    expect(layerApplies(group, DEV, { site: 'a' })).toBe(false);
    expect(layerApplies(layer('group:empty', {}), DEV, {})).toBe(false);
    expect(layerApplies(layer(`device:${DEV}`, {}), DEV, {})).toBe(true);
    expect(layerApplies(layer('device:dev_bbbbbbbbbbbbbbbbbbbb', {}), DEV, {})).toBe(false);
  });

  it('orders fleet, groups by priority, then the device; later layers win and provenance follows', () => {
    const ordered = orderLayers([
      layer(`device:${DEV}`, { app: { mode: 'debug' } }),
      layer('group:high', { app: { color: 'red' } }, { selector: { site: 'a' }, priority: 20 }),
      layer('group:low', { app: { color: 'blue', list: [1, 2] } }, { selector: { site: 'a' }, priority: 10 }),
      layer('fleet', { app: { color: 'grey', mode: 'normal', nested: { a: 1, b: 2 } } }),
    ]);
    expect(ordered.map((l) => l.id)).toEqual(['fleet', 'group:low', 'group:high', `device:${DEV}`]);
    const merged = mergeForDevice(ordered, DEV, { site: 'a' });
    expect(merged.config).toEqual({ app: { color: 'red', mode: 'debug', list: [1, 2], nested: { a: 1, b: 2 } } });
    expect(merged.sources).toEqual({ '/app/color': 'group:high', '/app/mode': `device:${DEV}`, '/app/list': 'group:low', '/app/nested/a': 'fleet', '/app/nested/b': 'fleet' });
  });

  it('replaces arrays and scalars whole, and drops the provenance of a replaced subtree', () => {
    const merged = mergeForDevice(orderLayers([
      layer('fleet', { app: { nested: { a: 1 }, list: [1, 2, 3] } }),
      layer(`device:${DEV}`, { app: { nested: 'off', list: [9] } }),
    ]), DEV, {});
    expect(merged.config).toEqual({ app: { nested: 'off', list: [9] } });
    expect(merged.sources).toEqual({ '/app/nested': `device:${DEV}`, '/app/list': `device:${DEV}` });
  });

  it('does not let a merge write into the stored layers', () => {
    const fleet = layer('fleet', { app: { nested: { a: 1 } } });
    mergeForDevice([fleet, layer(`device:${DEV}`, { app: { nested: { b: 2 } } })], DEV, {});
    expect(fleet.values).toEqual({ app: { nested: { a: 1 } } });
  });

  it('bounds nesting with CONFIG_INVALID', () => {
    let deep: unknown = 1;
    for (let i = 0; i <= CONFIG_MAX_DEPTH; i++) deep = { x: deep };
    expect(() => checkDepth(deep)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }) as TetherError);
    expect(() => checkDepth({ a: [{ b: 1 }] })).not.toThrow();
  });

  it('hashes equal configs equally whatever their key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 1, x: 2 }], c: null } })).toBe(canonicalJson({ a: { c: null, d: [1, { x: 2, y: 1 }] }, b: 1 }));
  });
});
