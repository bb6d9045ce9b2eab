import { z } from 'zod';
import type { ConfigDiff, ConfigFleetStatus, ConfigHistory, ConfigLayer, ConfigLayerWrite, ConfigValidateResponse, EffectiveConfig } from '../../protocol/index.js';
import { createJsonRequest } from '../api/json-request.js';

/** The remote-configuration part of the REST API; every answer is parsed with its protocol schema. */
export interface ConfigApi {
  layers(): Promise<ConfigLayer[]>;
  putLayer(id: string, write: ConfigLayerWrite): Promise<ConfigLayer>;
  deleteLayer(id: string, expectedVersion: number): Promise<void>;
  rollback(id: string, toVersion: number, expectedVersion: number): Promise<ConfigLayer | null>;
  /** With `previewDeviceId`, the answer also holds that device's effective config as it would be after the save. */
  validate(layerId: string, values: unknown, previewDeviceId?: string): Promise<ConfigValidateResponse>;
  history(target: string): Promise<ConfigHistory>;
  diff(target: string, from: number, to: number): Promise<ConfigDiff>;
  status(): Promise<ConfigFleetStatus>;
  effective(deviceId: string): Promise<EffectiveConfig>;
}

/** Same-origin, cookie-authenticated, with a timeout, like the main API client. */
export function createConfigApi(options: { fetch?: typeof fetch; timeoutMs?: number } = {}): ConfigApi {
  const call = createJsonRequest({ fetch: options.fetch, timeoutMs: options.timeoutMs, prefix: '/api/v1/config' });

  const layerPath = (id: string) => `/layers/${encodeURIComponent(id)}`;
  // The config schemas load with the first config request, not with the fleet's first screen.
  const schemas = () => import('../../protocol/config.js');
  return {
    layers: async () => (await call((await schemas()).ConfigLayerList, 'GET', '/layers')).layers,
    putLayer: async (id, write) => call((await schemas()).ConfigLayer, 'PUT', layerPath(id), write),
    deleteLayer: async (id, expectedVersion) => {
      await call(z.object({ version: z.number() }), 'DELETE', `${layerPath(id)}?expectedVersion=${expectedVersion}`);
    },
    rollback: async (id, toVersion, expectedVersion) => (await call(z.object({ layer: (await schemas()).ConfigLayer.nullable() }), 'POST', `${layerPath(id)}/rollback`, { toVersion, expectedVersion })).layer,
    validate: async (layerId, values, previewDeviceId) => call((await schemas()).ConfigValidateResponse, 'POST', '/validate', { layerId, values, ...(previewDeviceId !== undefined && { previewDeviceId }) }),
    history: async (target) => call((await schemas()).ConfigHistory, 'GET', `/history?target=${encodeURIComponent(target)}&limit=50`),
    diff: async (target, from, to) => call((await schemas()).ConfigDiff, 'GET', `/diff?target=${encodeURIComponent(target)}&from=${from}&to=${to}`),
    status: async () => call((await schemas()).ConfigFleetStatus, 'GET', '/status'),
    effective: async (deviceId) => call((await schemas()).EffectiveConfig, 'GET', `/devices/${encodeURIComponent(deviceId)}/effective`),
  };
}
