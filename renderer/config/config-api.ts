import { z } from 'zod';
import {
  ConfigDiff,
  ConfigFleetStatus,
  ConfigHistory,
  ConfigLayer,
  ConfigLayerList,
  ConfigValidateResponse,
  EffectiveConfig,
  isErrorCode,
  type ConfigLayerWrite,
} from '../../protocol/index.js';
import { ApiError } from '../api/api-client.js';

/** The remote-configuration part of the REST API; every answer is parsed with its protocol schema. */
export interface ConfigApi {
  layers(): Promise<ConfigLayer[]>;
  putLayer(id: string, write: ConfigLayerWrite): Promise<ConfigLayer>;
  deleteLayer(id: string, expectedVersion: number): Promise<void>;
  rollback(id: string, toVersion: number, expectedVersion: number): Promise<ConfigLayer | null>;
  validate(layerId: string, values: unknown): Promise<ConfigValidateResponse>;
  history(target: string): Promise<ConfigHistory>;
  diff(target: string, from: number, to: number): Promise<ConfigDiff>;
  status(): Promise<ConfigFleetStatus>;
  effective(deviceId: string): Promise<EffectiveConfig>;
}

const ErrorBody = z.object({ code: z.string(), message: z.string() });

/** Same-origin, cookie-authenticated, with a timeout, like the main API client. */
export function createConfigApi(options: { fetch?: typeof fetch; timeoutMs?: number } = {}): ConfigApi {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const timeoutMs = options.timeoutMs ?? 15_000;

  async function call<T>(schema: z.ZodType<T, unknown>, method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await doFetch(`/api/v1/config${path}`, {
        method,
        credentials: 'same-origin',
        headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (cause) {
      throw new ApiError('NETWORK', `Cannot reach the backend (${cause instanceof Error ? cause.message : String(cause)})`, 0);
    }
    const text = await response.text().catch(() => '');
    let json: unknown;
    try {
      json = text === '' ? undefined : (JSON.parse(text) as unknown);
    } catch {
      json = undefined;
    }
    if (!response.ok) {
      const error = ErrorBody.safeParse(json);
      if (error.success && isErrorCode(error.data.code)) throw new ApiError(error.data.code, error.data.message, response.status);
      throw new ApiError('BAD_RESPONSE', `The backend answered HTTP ${response.status}`, response.status);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new ApiError('BAD_RESPONSE', `Unexpected answer from ${path}`, response.status);
    return parsed.data;
  }

  const layerPath = (id: string) => `/layers/${encodeURIComponent(id)}`;
  return {
    layers: async () => (await call(ConfigLayerList, 'GET', '/layers')).layers,
    putLayer: (id, write) => call(ConfigLayer, 'PUT', layerPath(id), write),
    deleteLayer: async (id, expectedVersion) => {
      await call(z.object({ version: z.number() }), 'DELETE', `${layerPath(id)}?expectedVersion=${expectedVersion}`);
    },
    rollback: async (id, toVersion, expectedVersion) => (await call(z.object({ layer: ConfigLayer.nullable() }), 'POST', `${layerPath(id)}/rollback`, { toVersion, expectedVersion })).layer,
    validate: (layerId, values) => call(ConfigValidateResponse, 'POST', '/validate', { layerId, values }),
    history: (target) => call(ConfigHistory, 'GET', `/history?target=${encodeURIComponent(target)}&limit=50`),
    diff: (target, from, to) => call(ConfigDiff, 'GET', `/diff?target=${encodeURIComponent(target)}&from=${from}&to=${to}`),
    status: () => call(ConfigFleetStatus, 'GET', '/status'),
    effective: (deviceId) => call(EffectiveConfig, 'GET', `/devices/${encodeURIComponent(deviceId)}/effective`),
  };
}
