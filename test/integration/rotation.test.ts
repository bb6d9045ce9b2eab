import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, enrolAndRun, login, openConsole, startBackend, type Backend, type Proc } from '../harness.js';

describe('session key rotation between real processes', () => {
  let backend: Backend;
  let admin: string;
  let agent: { proc: Proc; stateDir: string; deviceId: string };

  beforeAll(async () => {
    // The agent rotates far more often than any real one; lift the backend's per-minute bound to match.
    backend = await startBackend({ env: { TETHER_MAX_REKEYS_PER_MINUTE: '1000' } });
    admin = await login(backend);
    // Forced low so the test sees many rotations: every 6 frames, and at least every 2 s.
    agent = await enrolAndRun(backend, admin, 'rotor', { TETHER_REKEY_AFTER_FRAMES: '6', TETHER_REKEY_AFTER_MS: '2000' });
  });

  afterAll(async () => {
    await agent.proc.stop();
    await backend.stop();
    cleanup(backend.home, agent.stateDir);
  });

  it('rotates keys by frame count mid-traffic without losing or reordering a request', async () => {
    const console = await openConsole(backend, admin);
    const payloads = (answers: Array<{ ok: boolean; result?: unknown; error?: { code: string } }>) =>
      answers.map((a) => (a.ok ? (a.result as { payload: string }).payload : a.error?.code));
    // A burst: requests keep flowing both ways while a rotation is in flight.
    const burst = await Promise.all(Array.from({ length: 60 }, (_, i) => console.request(agent.deviceId, 'system.echo', { payload: `b${i}` })));
    expect(payloads(burst)).toEqual(Array.from({ length: 60 }, (_, i) => `b${i}`));
    // One at a time: a rotation every few requests.
    const sequential = [];
    for (let i = 0; i < 40; i++) sequential.push(await console.request(agent.deviceId, 'system.echo', { payload: `s${i}` }));
    expect(payloads(sequential)).toEqual(Array.from({ length: 40 }, (_, i) => `s${i}`));
    const epochs = agent.proc.json().filter((e) => e.msg === 'session keys rotated').map((e) => Number(e.epoch));
    expect(epochs.length).toBeGreaterThanOrEqual(10);
    expect(epochs).toEqual([...epochs].sort((a, b) => a - b));
    console.close();
  });

  it('rotates by time on an idle channel and stays connected', async () => {
    const before = agent.proc.count((e) => e.msg === 'session keys rotated');
    await new Promise((r) => setTimeout(r, 4_500));
    expect(agent.proc.count((e) => e.msg === 'session keys rotated')).toBeGreaterThan(before);
    const console = await openConsole(backend, admin);
    expect(await console.request(agent.deviceId, 'system.echo', { payload: 'after idle rotation' })).toMatchObject({ ok: true });
    console.close();
    expect(agent.proc.count((e) => e.msg === 'connected')).toBe(1);
  });
});
