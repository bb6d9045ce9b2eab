import { CONFIG_MAX_DEPTH, TetherError, type ConfigLayer, type ConfigValues, type Tags } from '../../protocol/index.js';

type Json = ConfigValues[string][string];
type JsonObject = { [key: string]: Json };

/** The effective config of one device and, for each leaf, the layer that set it. */
export interface MergedConfig {
  config: ConfigValues;
  /** JSON Pointer → layer id. */
  sources: Record<string, string>;
  /** Applied layers, lowest first. */
  layers: string[];
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** RFC 6901 escaping of one pointer segment. */
export function pointerSegment(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** A group layer applies when every tag of its selector equals the device's; fleet always; device layers to their device. */
export function layerApplies(layer: Pick<ConfigLayer, 'kind' | 'id' | 'selector'>, deviceId: string, tags: Tags): boolean {
  switch (layer.kind) {
    case 'fleet':
      return true;
    case 'device':
      return layer.id === `device:${deviceId}`;
    case 'group': {
      const entries = Object.entries(layer.selector);
      return entries.length > 0 && entries.every(([key, value]) => tags[key] === value);
    }
  }
}

const KIND_RANK = { fleet: 0, group: 1, device: 2 } as const;

/** Merge order: fleet, then groups by ascending priority (name breaks ties), then the device layer. */
export function orderLayers<L extends Pick<ConfigLayer, 'kind' | 'id' | 'priority'>>(layers: readonly L[]): L[] {
  return [...layers].sort((a, b) => KIND_RANK[a.kind] - KIND_RANK[b.kind] || a.priority - b.priority || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Merges the layers that apply to a device. Objects merge key by key; any other value replaces
 * the lower layer's (arrays are replaced whole: merging lists by index surprises everyone).
 */
export function mergeForDevice(ordered: readonly ConfigLayer[], deviceId: string, tags: Tags): MergedConfig {
  const config: Record<string, JsonObject> = {};
  const sources: Record<string, string> = {};
  const applied: string[] = [];
  for (const layer of ordered) {
    if (!layerApplies(layer, deviceId, tags)) continue;
    applied.push(layer.id);
    for (const [namespace, value] of Object.entries(layer.values)) {
      const target = (config[namespace] ??= {});
      mergeInto(target, value, `/${pointerSegment(namespace)}`, layer.id, sources);
    }
  }
  return { config, sources, layers: applied };
}

function mergeInto(target: JsonObject, source: JsonObject, path: string, layerId: string, sources: Record<string, string>): void {
  for (const [key, value] of Object.entries(source)) {
    const here = `${path}/${pointerSegment(key)}`;
    const current = target[key];
    if (isJsonObject(value) && isJsonObject(current)) {
      mergeInto(current, value, here, layerId, sources);
      continue;
    }
    // A replaced subtree's leaves no longer come from the lower layer.
    for (const pointer of Object.keys(sources)) if (pointer.startsWith(`${here}/`)) delete sources[pointer];
    if (isJsonObject(value)) {
      const copy: JsonObject = {};
      target[key] = copy;
      sources[here] = layerId;
      mergeInto(copy, value, here, layerId, sources);
      if (Object.keys(value).length > 0) delete sources[here];
    } else {
      target[key] = value;
      sources[here] = layerId;
    }
  }
}

/** CONFIG_INVALID when a value nests deeper than {@link CONFIG_MAX_DEPTH}. */
export function checkDepth(value: unknown, depth = 0): void {
  if (depth > CONFIG_MAX_DEPTH) throw new TetherError('CONFIG_INVALID', `Values may nest at most ${CONFIG_MAX_DEPTH} levels`);
  if (Array.isArray(value)) for (const item of value) checkDepth(item, depth + 1);
  else if (isJsonObject(value)) for (const item of Object.values(value)) checkDepth(item, depth + 1);
}

/** JSON with object keys sorted, so equal configs hash equal whatever order their keys were written in. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isJsonObject(value)) {
    return `{${Object.keys(value).sort().map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
