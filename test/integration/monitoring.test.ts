import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleServerMessage, TelemetryServerMessage, type MetricsQueryResult, type StoredLogLine } from '../../protocol/index.js';
import { api, backendDb, cleanup, createToken, enrolAndRun, login, registerAgent, startBackend, tempDir, waitFor, type Backend, type Proc } from '../harness.js';
import { backendSamples } from '../stored-samples.js';

async function query(backend: Backend, token: string, deviceId: string, names: string[], from: number, step = 0): Promise<MetricsQueryResult> {
  const res = await api(backend, 'GET', `/api/v1/metrics/devices/${deviceId}?names=${names.join(',')}&from=${from}&to=${Date.now() + 1000}&step=${step}`, { token });
  expect(res.status).toBe(200);
  return res.body as MetricsQueryResult;
}

function telemetrySocket(backend: Backend, token: string): WebSocket {
  return new WebSocket(new URL('/v1/agent/telemetry', backend.url.replace('https:', 'wss:')).href, { ca: backend.caCertPem, headers: { authorization: `Bearer ${token}` } });
}

/** Resolves with the HTTP status and error code of a refused upgrade. */
function refusedUpgrade(ws: WebSocket): Promise<{ status: number; code: string }> {
  return new Promise((resolve, reject) => {
    ws.on('open', () => reject(new Error('the upgrade was accepted')));
    ws.on('error', () => undefined);
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, code: (JSON.parse(body) as { code: string }).code }));
    });
  });
}

describe('monitoring with a real agent on this machine', () => {
  let backend: Backend;
  let admin: string;
  let agent: { proc: Proc; stateDir: string; deviceId: string };
  const logDir = tempDir('logs');
  const logFile = join(logDir, 'app.log');
  const dirs: string[] = [logDir];

  beforeAll(async () => {
    writeFileSync(logFile, 'before the agent started\n');
    backend = await startBackend();
    admin = await login(backend);
    agent = await enrolAndRun(backend, admin, 'monitored', { TETHER_LOG_FILES: logFile, TETHER_JOURNAL: '0' });
    dirs.push(agent.stateDir);
  });

  afterAll(async () => {
    await agent?.proc.stop();
    await backend?.stop();
    cleanup(...dirs, backend?.home ?? '');
  });

  it('reports plausible values: memory total as in /proc/meminfo, uptime that grows, CPU within 0–100, no battery where there is none', async () => {
    const since = Date.now() - 60_000;
    let result: MetricsQueryResult | undefined;
    await waitFor(async () => {
      result = await query(backend, admin, agent.deviceId, ['mem.total', 'uptime', 'cpu.total', 'battery.level', 'agent.spool.dropped'], since);
      // Uptime is reported in whole seconds (docs/metrics.md): samples 500 ms apart must span 2 s to grow for sure.
      const uptime = result.series.find((s) => s.name === 'uptime')?.points ?? [];
      return uptime.length >= 3 && (uptime.at(-1)?.[0] ?? 0) - (uptime[0]?.[0] ?? 0) >= 2_000;
    }, 20_000, 'uptime samples over 2 s');
    const series = (name: string) => result?.series.find((s) => s.name === name)?.points ?? [];
    const memKb = Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1]);
    expect(series('mem.total').at(-1)?.[1]).toBe(memKb * 1024);
    const uptimes = series('uptime').map((p) => p[1]);
    expect(uptimes.at(-1)).toBeGreaterThan(uptimes[0] ?? Infinity);
    for (const [, v] of series('cpu.total')) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(100);
    }
    const hasBattery = existsSync('/sys/class/power_supply') && readdirSync('/sys/class/power_supply').some((d) => d.startsWith('BAT'));
    if (!hasBattery) expect(series('battery.level')).toEqual([]);
    expect(series('agent.spool.dropped').at(-1)?.[1]).toBe(0);

    const latest = await api(backend, 'GET', '/api/v1/metrics/latest?names=mem.total', { token: admin });
    expect((latest.body as { devices: Record<string, Record<string, { value: number }>> }).devices[agent.deviceId]?.['mem.total']?.value).toBe(memKb * 1024);
  });

  it('a line written to a followed log file reaches the live tail and the full-text search', async () => {
    const ws = new WebSocket(new URL('/api/v1/console', backend.url.replace('https:', 'wss:')).href, { ca: backend.caCertPem, headers: { authorization: `Bearer ${admin}` } });
    const tail: StoredLogLine[] = [];
    const samples: string[] = [];
    ws.on('message', (data) => {
      const msg = ConsoleServerMessage.parse(JSON.parse(data.toString()));
      if (msg.type === 'logs.lines') tail.push(...msg.lines);
      if (msg.type === 'metrics.samples' && msg.deviceId === agent.deviceId) samples.push(...msg.samples.map((s) => s.name));
    });
    await new Promise<void>((ok) => ws.once('open', () => ok()));
    ws.send(JSON.stringify({ type: 'logs.subscribe', deviceId: agent.deviceId }));
    ws.send(JSON.stringify({ type: 'metrics.subscribe', target: agent.deviceId }));
    const marker = `zebra-${Date.now()}`;
    appendFileSync(logFile, `ERROR disk failure ${marker} on sda1\n`);
    await waitFor(() => tail.some((l) => l.message.includes(marker)), 10_000, 'the line in the live tail');
    const line = tail.find((l) => l.message.includes(marker));
    expect(line).toMatchObject({ deviceId: agent.deviceId, level: 'error', source: 'app.log' });
    await waitFor(() => samples.includes('uptime'), 10_000, 'live samples');
    ws.close();

    const found = await api(backend, 'GET', `/api/v1/logs?q=${encodeURIComponent(`${marker} sda1`)}`, { token: admin });
    expect((found.body as { lines: StoredLogLine[] }).lines.map((l) => l.message)).toEqual([`ERROR disk failure ${marker} on sda1`]);
    const none = await api(backend, 'GET', `/api/v1/logs?q=${encodeURIComponent(`${marker} "nosuchword`)}`, { token: admin });
    expect((none.body as { lines: StoredLogLine[] }).lines).toEqual([]);
    const before = await api(backend, 'GET', `/api/v1/logs?q=${encodeURIComponent('before the agent started')}`, { token: admin });
    expect((before.body as { lines: StoredLogLine[] }).lines).toEqual([]);
  });

  it('refuses bad batches with their codes and stores nothing of them', async () => {
    const token = readFileSync(join(agent.stateDir, 'telemetry.token'), 'utf8').trim();
    const otherDir = tempDir('agent');
    dirs.push(otherDir);
    expect((await registerAgent(backend, await createToken(backend, admin), otherDir)).code).toBe(0);
    const other = JSON.parse(readFileSync(join(otherDir, 'state.json'), 'utf8')) as { deviceId: string };
    const otherToken = readFileSync(join(otherDir, 'telemetry.token'), 'utf8').trim();

    expect(await refusedUpgrade(telemetrySocket(backend, 'x'.repeat(43)))).toEqual({ status: 401, code: 'TELEMETRY_TOKEN_INVALID' });
    expect((await api(backend, 'POST', `/api/v1/devices/${other.deviceId}/revoke`, { token: admin })).status).toBe(200);
    expect(await refusedUpgrade(telemetrySocket(backend, otherToken))).toEqual({ status: 403, code: 'DEVICE_REVOKED' });

    const ws = telemetrySocket(backend, token);
    const answers: TelemetryServerMessage[] = [];
    ws.on('message', (data) => answers.push(TelemetryServerMessage.parse(JSON.parse(data.toString()))));
    await new Promise<void>((ok) => ws.once('open', () => ok()));
    const now = Date.now();
    const BASE = 1_000_000_000_000;
    const metric = (ts = now) => ({ ts, name: 'bad.marker', value: 1 });
    const bad: Array<[string, string | Record<string, unknown>]> = [
      ['BATCH_INVALID', '{"type":"batch","seq":'],
      ['BATCH_INVALID', { type: 'batch', seq: BASE + 1, metrics: [{ ts: now, name: 'Bad Name', value: 1 }], logs: [] }],
      ['BATCH_INVALID', { type: 'batch', seq: BASE + 2, metrics: [metric(), { ts: now, name: 'x', value: 'NaN' }], logs: [] }],
      ['BATCH_TOO_LARGE', { type: 'batch', seq: BASE + 3, metrics: [metric()], logs: Array.from({ length: 80 }, () => ({ ts: now, level: 'info', source: 'x', message: 'y'.repeat(16_000) })) }],
      ['BATCH_CLOCK_SKEW', { type: 'batch', seq: BASE + 4, metrics: [metric(), metric(now + 2 * 3600_000)], logs: [] }],
      ['BATCH_CLOCK_SKEW', { type: 'batch', seq: BASE + 5, metrics: [metric(now - 30 * 24 * 3600_000)], logs: [] }],
      ['BATCH_CLOCK_SKEW', { type: 'batch', seq: BASE + 6, metrics: [metric()], logs: [{ ts: now + 24 * 3600_000, level: 'info', source: 'x', message: 'bad.marker' }] }],
      ['BATCH_DEVICE_MISMATCH', { type: 'batch', seq: BASE + 7, deviceId: other.deviceId, metrics: [metric()], logs: [{ ts: now, level: 'info', source: 'x', message: 'bad.marker' }] }],
    ];
    for (const [, body] of bad) ws.send(typeof body === 'string' ? body : JSON.stringify(body));
    // A good batch after them shows the socket stayed usable and gives the order a fence.
    ws.send(JSON.stringify({ type: 'batch', seq: BASE + 99, metrics: [{ ts: now, name: 'good.marker', value: 1 }], logs: [] }));
    await waitFor(() => answers.length === bad.length + 1, 10_000, 'all answers');
    expect(answers.slice(0, bad.length).map((a) => (a.type === 'nack' ? a.code : 'ack'))).toEqual(bad.map(([code]) => code));
    expect(answers.slice(1, bad.length).map((a) => a.seq)).toEqual(bad.slice(1).map(([, b]) => (b as { seq: number }).seq));
    expect(answers.at(-1)).toEqual({ type: 'ack', seq: BASE + 99 });
    ws.close();

    const db = await backendDb(backend, 'metrics');
    try {
      const names = (await sql<{ name: string }>`SELECT name FROM series`.execute(db)).rows.map((r) => r.name);
      expect(names.filter((n) => n === 'bad.marker')).toHaveLength(0);
      expect(names.filter((n) => n === 'good.marker')).toHaveLength(1);
      expect(await backendSamples(backend, agent.deviceId, 'good.marker')).toHaveLength(1);
      expect((await sql<{ seq: number }>`SELECT seq FROM telemetry_batches WHERE seq >= ${BASE}`.execute(db)).rows.map((r) => Number(r.seq))).toEqual([BASE + 99]);
      const logs = await sql<{ n: number }>`SELECT count(*) AS n FROM logs WHERE message = 'bad.marker' OR length(message) = 16000`.execute(db);
      expect(Number(logs.rows[0]?.n)).toBe(0);
      expect(await backendSamples(backend, other.deviceId)).toHaveLength(0);
    } finally {
      await db.destroy();
    }
  });
});
