import { register as globalRegistry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createBackendMetrics, type BackendMetrics } from './backend-metrics.js';

describe('createBackendMetrics', () => {
  let metrics: BackendMetrics | undefined;
  afterEach(() => metrics?.close());

  const sources = (over: { samples?: number } = {}) => ({
    connectedAgents: () => 2,
    telemetrySockets: () => 1,
    openShells: () => 3,
    ingest: () => ({ batches: 4, samples: over.samples ?? 40, duplicates: 1, queued: 0 }),
  });

  it('keeps its own registry with the documented names, prom-client defaults included', async () => {
    metrics = createBackendMetrics(sources());
    const names = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name);
    for (const name of [
      'tether_agents_connected', 'tether_control_frames_total', 'tether_control_handshakes_total', 'tether_telemetry_batches_total',
      'tether_telemetry_samples_stored_total', 'tether_ingest_samples_per_second', 'tether_ingest_queue_batches', 'tether_shell_sessions_open',
      'tether_telemetry_sockets', 'tether_http_request_duration_seconds',
      'nodejs_eventloop_lag_p50_seconds', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_eventloop_lag_max_seconds',
      'process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'nodejs_heap_size_used_bytes',
    ]) expect(names, name).toContain(name);
    // Nothing lands in prom-client's global registry, which another library in the process may own.
    expect((await globalRegistry.getMetricsAsJSON()).map((m) => m.name).filter((n) => n.startsWith('tether_'))).toEqual([]);
  });

  it('reads gauges and service totals at scrape time', async () => {
    let samples = 40;
    metrics = createBackendMetrics({ ...sources(), ingest: () => ({ batches: 4, samples, duplicates: 1, queued: 5 }) });
    const text = await metrics.registry.metrics();
    expect(text).toContain('\ntether_agents_connected 2\n');
    expect(text).toContain('\ntether_shell_sessions_open 3\n');
    expect(text).toContain('\ntether_ingest_queue_batches 5\n');
    expect(text).toContain('\ntether_telemetry_samples_stored_total 40\n');
    samples = 55;
    expect(await metrics.registry.metrics()).toContain('\ntether_telemetry_samples_stored_total 55\n');
  });

  it('counts with labels and times HTTP requests into a histogram by route and status class', async () => {
    metrics = createBackendMetrics(sources());
    metrics.counters.controlFrames.inc({ direction: 'in' });
    metrics.counters.controlFrames.inc({ direction: 'in' }, 2);
    metrics.observeHttp({ method: 'GET', route: '/api/v1/devices/:id', statusCode: 200, seconds: 0.003 });
    metrics.observeHttp({ method: 'GET', route: '/api/v1/devices/:id', statusCode: 404, seconds: 0.2 });
    metrics.observeHttp({ method: 'GET', route: '/api/v1/devices/:id', statusCode: 204, seconds: 0.02 });
    const text = await metrics.registry.metrics();
    expect(text).toContain('tether_control_frames_total{direction="in"} 3');
    expect(text).toContain('# TYPE tether_http_request_duration_seconds histogram');
    const labels = 'method="GET",route="/api/v1/devices/:id",status_class="2xx"';
    expect(text).toContain(`tether_http_request_duration_seconds_bucket{le="0.005",${labels}} 1`);
    expect(text).toContain(`tether_http_request_duration_seconds_bucket{le="+Inf",${labels}} 2`);
    expect(text).toContain(`tether_http_request_duration_seconds_count{${labels}} 2`);
    expect(text).toContain('tether_http_request_duration_seconds_count{method="GET",route="/api/v1/devices/:id",status_class="4xx"} 1');
  });
});
