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
