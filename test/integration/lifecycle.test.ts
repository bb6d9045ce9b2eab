import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, cleanup, createToken, deviceOf, enrolAndRun, login, openConsole, registerAgent, startAgent, startBackend, tempDir, waitFor, type Backend, type Proc } from '../harness.js';
import { handshake } from './rogue-device.js';
import { readFileSync } from 'node:fs';
import { backendSamples } from '../stored-samples.js';

describe('a real backend with real agents', () => {
  let backend: Backend;
  let admin: string;
  const agents: Array<{ proc: Proc; stateDir: string; deviceId: string }> = [];

  beforeAll(async () => {
    backend = await startBackend();
    admin = await login(backend);
    agents.push(await enrolAndRun(backend, admin, 'alpha'), await enrolAndRun(backend, admin, 'beta'));
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.proc.stop()));
    await backend.stop();
    cleanup(backend.home, ...agents.map((a) => a.stateDir));
  });

  it('lists enrolled devices online with name, tags and last seen', async () => {
    const res = await api(backend, 'GET', '/api/v1/devices', { token: admin });
    expect(res.status).toBe(200);
    const devices = (res.body as { devices: Array<{ id: string; name: string; online: boolean; lastSeen: number | null; tags: object }> }).devices;
    for (const agent of agents) {
      const device = devices.find((d) => d.id === agent.deviceId);
      expect(device).toMatchObject({ online: true, tags: {} });
      expect(device?.lastSeen).toBeGreaterThan(Date.now() - 60_000);
    }
    expect(devices.map((d) => d.name).sort()).toEqual(['alpha', 'beta']);
  });

  it('relays a request from a console through the backend to the agent and back', async () => {
    const console = await openConsole(backend, admin);
    const [first] = agents;
    const answer = await console.request(first!.deviceId, 'system.echo', { payload: 'ping through the sealed channel' });
    expect(answer).toMatchObject({ ok: true, result: { payload: 'ping through the sealed channel' } });
    const info = await console.request(first!.deviceId, 'system.info', {});
    expect(info).toMatchObject({ ok: true, result: { facts: { agentVersion: expect.any(String) } } });
    const offline = await console.request('dev_aaaaaaaaaaaaaaaaaaaaaaaa', 'system.echo', { payload: '' });
    expect(offline).toMatchObject({ ok: false, error: { code: 'DEVICE_OFFLINE' } });
    const forbidden = await console.request(first!.deviceId, 'system.reboot', {});
    expect(forbidden).toMatchObject({ ok: false, error: { code: 'METHOD_UNKNOWN' } });
    console.close();
  });

  it('stores acked telemetry (uptime) in the metrics database', async () => {
    const deviceId = agents[0]!.deviceId;
    let stored = 0;
    await waitFor(async () => (stored = (await backendSamples(backend, deviceId, 'uptime')).length) >= 2, 10_000, 'uptime samples');
    expect(stored).toBeGreaterThanOrEqual(2);
  });

  it('reconnects every agent after a backend restart', async () => {
    const home = backend.home;
    const port = backend.port;
    await backend.stop();
    backend = await startBackend({ home, port });
    admin = await login(backend);
    for (const agent of agents) {
      await waitFor(async () => (await deviceOf(backend, admin, agent.deviceId))?.online === true, 30_000, `${agent.deviceId} back online`);
    }
  });

  it('keeps a device from an approval token pending (DEVICE_PENDING) until an admin approves it', async () => {
    const stateDir = tempDir('agent');
    const token = await createToken(backend, admin, { requireApproval: true });
    expect((await registerAgent(backend, token, stateDir, ['--name', 'waiting'])).code).toBe(0);
    const deviceId = (JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as { deviceId: string }).deviceId;
    const proc = startAgent(stateDir, {}, 'waiting');
    try {
      await proc.waitForLog((e) => e.msg === 'control channel closed; reconnecting' && e.code === 'DEVICE_PENDING');
      expect(await deviceOf(backend, admin, deviceId)).toMatchObject({ status: 'pending', online: false });
      expect((await api(backend, 'POST', `/api/v1/devices/${deviceId}/approve`, { token: admin })).status).toBe(200);
      await waitFor(async () => (await deviceOf(backend, admin, deviceId))?.online === true, 20_000, 'approved device online');
    } finally {
      await proc.stop();
      cleanup(stateDir);
    }
  });

  it('disconnects a revoked device within 1 s and refuses its handshake and telemetry after', async () => {
    const victim = agents[1]!;
    const bystander = agents[0]!;
    const from = victim.proc.lines.length;
    const before = Date.now();
    const res = await api(backend, 'POST', `/api/v1/devices/${victim.deviceId}/revoke`, { token: admin });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'revoked', online: false });
    const refused = await victim.proc.waitForLog((e) => e.msg === 'the backend refused this device', 5_000, 0);
    expect(refused.code).toBe('DEVICE_REVOKED');
    const disconnectMs = Number(refused.time) - before;
    expect(disconnectMs).toBeLessThan(1_000);
    expect(await victim.proc.exited).toBe(3);
    expect(victim.proc.lines.slice(from).join('\n')).toContain('error DEVICE_REVOKED');

    // A fresh handshake with the revoked identity is refused with its code.
    const stateDir = victim.stateDir;
    const cert = readFileSync(join(stateDir, 'device.crt'), 'utf8');
    const key = readFileSync(join(stateDir, 'device.key'), 'utf8');
    const again = await handshake(backend, victim.deviceId, cert, key);
    expect(await again.closed).toEqual({ code: 4421, reason: 'DEVICE_REVOKED' });

    // Telemetry with its token is refused at the upgrade.
    const token = readFileSync(join(stateDir, 'telemetry.token'), 'utf8').trim();
    const status = await new Promise<{ status: number; body: string }>((resolve) => {
      const ws = new WebSocket(new URL('/v1/agent/telemetry', backend.url.replace('https:', 'wss:')).href, { ca: backend.caCertPem, headers: { authorization: `Bearer ${token}` } });
      ws.on('unexpected-response', (_req, response) => {
        let body = '';
        response.on('data', (c: Buffer) => (body += c.toString()));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      });
      ws.on('error', () => undefined);
    });
    expect(status.status).toBe(403);
    expect(JSON.parse(status.body)).toMatchObject({ code: 'DEVICE_REVOKED' });

    // The other device never noticed.
    expect((await deviceOf(backend, admin, bystander.deviceId))?.online).toBe(true);
  });
});
