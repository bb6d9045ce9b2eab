/**
 * Reconnect storm: connected simulated agents (the real ControlClient, full-jitter backoff)
 * all lose their connections at once and must all come back without the backend falling over.
 * 300 agents in the quick suite; 5,000 with TETHER_HARDENING_LONG=1 (also `npm run bench -- storm`).
 */
import { describe, expect, it } from 'vitest';
import { runStorm } from '../../bench/storm.js';
import { LONG } from './fuzz-input.js';

describe('reconnect storm', () => {
  it('300 agents dropped at once all reconnect; /healthz keeps answering', async ({ annotate }) => {
    const r = await runStorm(300, { timeoutMs: 90_000 });
    expect(r.reconnected).toBe(300);
    expect(r.allReconnectedMs).toBeLessThan(60_000);
    expect(r.healthzMaxMs).toBeLessThan(5_000);
    void annotate(`allReconnectedMs ${r.allReconnectedMs}, peakRssMB ${r.peakRssMB}, healthzP99Ms ${r.healthzP99Ms}`);
  }, 300_000);

  it('5,000 agents dropped at once (long)', async ({ annotate, skip }) => {
    if (!LONG) skip('long run: set TETHER_HARDENING_LONG=1 (or npm run bench -- storm)');
    const r = await runStorm(5_000, { timeoutMs: 180_000 });
    expect(r.reconnected).toBe(5_000);
    expect(r.allReconnectedMs).toBeLessThan(60_000);
    void annotate(`allReconnectedMs ${r.allReconnectedMs}, peakRssMB ${r.peakRssMB}, healthzP99Ms ${r.healthzP99Ms}`);
  }, 40 * 60_000);
});
