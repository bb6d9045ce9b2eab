import { z } from 'zod';
import { AlertEvent, AlertRule, LogSearchResult, MetricNames, MetricsQueryResult, type AlertRuleInput, type StoredLogLine } from '../../protocol/index.js';
import { createJsonRequest } from '../api/json-request.js';

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

export function createMonitoringApi(fetchImpl: typeof fetch = globalThis.fetch.bind(globalThis), timeoutMs = 15_000): MonitoringApi {
  const call = createJsonRequest({ fetch: fetchImpl, timeoutMs });
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
