import { z } from 'zod';
import { AlertEvent, AlertRule, LogSearchResult, MetricNames, MetricsQueryResult, isErrorCode, type AlertRuleInput, type StoredLogLine } from '../../protocol/index.js';
import { ApiError } from '../api/api-client.js';

/** The metrics, logs and alerts part of the REST API; answers are parsed with their schemas. */
export interface MonitoringApi {
  query(deviceId: string, names: string[], from: number, to: number, step: number): Promise<MetricsQueryResult>;
  names(deviceId: string): Promise<string[]>;
  searchLogs(params: { q?: string; deviceId?: string; limit?: number }): Promise<StoredLogLine[]>;
  rules(): Promise<AlertRule[]>;
  createRule(input: AlertRuleInput): Promise<AlertRule>;
  deleteRule(id: number): Promise<void>;
  events(): Promise<AlertEvent[]>;
}

const ErrorBody = z.object({ code: z.string(), message: z.string() });

export function createMonitoringApi(fetchImpl: typeof fetch = globalThis.fetch.bind(globalThis), timeoutMs = 15_000): MonitoringApi {
  async function call<T>(schema: z.ZodType<T, unknown>, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetchImpl(`/api/v1${path}`, {
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
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!response.ok) {
      const err = ErrorBody.safeParse(json);
      if (err.success && isErrorCode(err.data.code)) throw new ApiError(err.data.code, err.data.message, response.status);
      throw new ApiError('BAD_RESPONSE', `The backend answered HTTP ${response.status}`, response.status);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new ApiError('BAD_RESPONSE', `Unexpected answer from ${path}`, response.status);
    return parsed.data;
  }
  const qs = (params: Record<string, string | number | undefined>) =>
    new URLSearchParams(Object.entries(params).flatMap(([k, v]) => (v === undefined || v === '' ? [] : [[k, String(v)]]))).toString();
  return {
    query: (deviceId, names, from, to, step) => call(MetricsQueryResult, 'GET', `/metrics/devices/${deviceId}?${qs({ names: names.join(','), from, to, step })}`),
    names: async (deviceId) => (await call(MetricNames, 'GET', `/metrics/devices/${deviceId}/names`)).names,
    searchLogs: async (params) => (await call(LogSearchResult, 'GET', `/logs?${qs(params)}`)).lines,
    rules: async () => (await call(z.object({ rules: z.array(AlertRule) }), 'GET', '/alerts/rules')).rules,
    createRule: (input) => call(AlertRule, 'POST', '/alerts/rules', input),
    deleteRule: async (id) => {
      await call(z.unknown(), 'DELETE', `/alerts/rules/${id}`);
    },
    events: async () => (await call(z.object({ events: z.array(AlertEvent) }), 'GET', '/alerts/events')).events,
  };
}
