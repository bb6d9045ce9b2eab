import { afterAll, describe, expect, it } from 'vitest';
import { api, cleanup, enrolAndRun, login, startBackend, waitFor, type Backend, type Proc } from '../harness.js';
import { parsePrometheusText, sampleValue, type PromFamily } from '../prometheus-text.js';

describe('/metrics', () => {
  let backend: Backend | undefined;
  let agent: { proc: Proc; stateDir: string; deviceId: string } | undefined;

  afterAll(async () => {
    await agent?.proc.stop();
    await backend?.stop();
    cleanup(agent?.stateDir ?? '', backend?.home ?? '');
  });

  async function scrape(): Promise<Map<string, PromFamily>> {
    const res = await api(backend!, 'GET', '/metrics');
    expect(res.status).toBe(200);
    expect(typeof res.body).toBe('string');
    return parsePrometheusText(res.body as string);
  }

  it('parses as Prometheus text, needs no login, and its counters move with traffic', async () => {
    backend = await startBackend();
    const before = await scrape();
    expect(sampleValue(before, 'tether_agents_connected')).toBe(0);
    for (const name of ['tether_control_frames_total', 'tether_telemetry_batches_total', 'tether_telemetry_samples_stored_total', 'tether_ingest_samples_per_second', 'tether_shell_sessions_open', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_eventloop_lag_max_seconds', 'process_resident_memory_bytes']) {
      expect(before.has(name), name).toBe(true);
    }
    expect(before.get('tether_control_frames_total')?.type).toBe('counter');
    expect(before.get('tether_agents_connected')?.type).toBe('gauge');

    const admin = await login(backend);
    await api(backend, 'GET', '/api/v1/devices/dev_nosuchdevicenosuchdevice', { token: admin });
    await api(backend, 'GET', '/no/such/path/12345');
    const timed = await scrape();
    const latency = timed.get('tether_http_request_duration_seconds');
    expect(latency?.type).toBe('histogram');
    const same = (a: Record<string, string>, b: Record<string, string>) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
    const count = (labels: Record<string, string>) => latency?.samples.find((s) => s.name.endsWith('_count') && same(s.labels, labels))?.value ?? 0;
    expect(count({ method: 'POST', route: '/api/v1/auth/login', status_class: '2xx' })).toBe(1);
    expect(count({ method: 'GET', route: '/api/v1/devices/:id', status_class: '4xx' })).toBe(1);
    // Invented URLs share one series instead of adding one each.
    expect(count({ method: 'GET', route: 'unmatched', status_class: '4xx' })).toBe(1);
    const buckets = latency?.samples.filter((s) => s.name.endsWith('_bucket') && s.labels.route === '/api/v1/auth/login') ?? [];
    expect(buckets.at(-1)?.labels.le).toBe('+Inf');
    expect(buckets.map((b) => b.value)).toEqual([...buckets.map((b) => b.value)].sort((a, b) => a - b));

    agent = await enrolAndRun(backend, admin, 'metrics', { TETHER_TELEMETRY_INTERVAL_MS: '300', TETHER_JOURNAL: '0' });
    const first = await scrape();
    expect(sampleValue(first, 'tether_agents_connected')).toBe(1);
    expect(sampleValue(first, 'tether_control_handshakes_total', { result: 'accepted' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(first, 'tether_control_frames_total', { direction: 'out' })).toBeGreaterThan(0);

    const acked = (m: Map<string, PromFamily>) => sampleValue(m, 'tether_telemetry_batches_total', { result: 'acked' }) ?? 0;
    const stored = (m: Map<string, PromFamily>) => sampleValue(m, 'tether_telemetry_samples_stored_total') ?? 0;
    let later = first;
    await waitFor(async () => {
      later = await scrape();
      return acked(later) >= acked(first) + 3 && (sampleValue(later, 'tether_ingest_samples_per_second') ?? 0) > 0 && (sampleValue(later, 'tether_control_frames_total', { direction: 'in' }) ?? 0) > 0;
    }, 20_000, 'telemetry counters to move');
    expect(stored(later)).toBeGreaterThan(stored(first));
    expect(sampleValue(later, 'tether_telemetry_sockets')).toBe(1);

    // The agent going away shows at once.
    await agent.proc.stop();
    await waitFor(async () => sampleValue(await scrape(), 'tether_agents_connected') === 0, 10_000, 'the gauge to drop');
  });
});
