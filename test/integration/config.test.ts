import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigFleetStatus, type ConfigDeviceStatus, type ConfigLayer } from '../../protocol/index.js';
import { api, backendDb, cleanup, createToken, deviceOf, login, registerAgent, startAgent, startBackend, tempDir, waitFor, type Backend, type Proc } from '../harness.js';

interface Agent { label: string; proc: Proc; stateDir: string; deviceId: string; env: Record<string, string> }

/** Enrols with a token carrying `tags` (the way group layers select devices) and starts the agent. */
async function enrolTagged(backend: Backend, admin: string, label: string, tags: Record<string, string>, env: Record<string, string> = {}): Promise<Agent> {
  const stateDir = tempDir('agent');
  const reg = await registerAgent(backend, await createToken(backend, admin, { tags }), stateDir, ['--name', label]);
  if (reg.code !== 0) throw new Error(`register failed: ${reg.output}`);
  const deviceId = (JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as { deviceId: string }).deviceId;
  const proc = startAgent(stateDir, env, label);
  await waitFor(async () => (await deviceOf(backend, admin, deviceId))?.online === true, 30_000, `${label} online`);
  return { label, proc, stateDir, deviceId, env };
}

/** What the agent wrote into its config directory. */
function deviceConfig(agent: Agent): { version: number; config: Record<string, Record<string, unknown>> } | null {
  const file = join(agent.stateDir, 'config', 'config.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { version: number; config: Record<string, Record<string, unknown>> }) : null;
}

describe('remote configuration with real agents', () => {
  let backend: Backend;
  let admin: string;
  let a1: Agent;
  let a2: Agent;
  let b1: Agent;
  let hooked: Agent;
  const hookDir = tempDir('hook');
  const hook = join(hookDir, 'apply-hook.sh');

  const status = async (): Promise<Map<string, ConfigDeviceStatus>> => {
    const res = await api(backend, 'GET', '/api/v1/config/status', { token: admin });
    return new Map(ConfigFleetStatus.parse(res.body).devices.map((d) => [d.deviceId, d]));
  };
  const layer = async (id: string): Promise<ConfigLayer> => (await api(backend, 'GET', `/api/v1/config/layers/${id}`, { token: admin })).body as ConfigLayer;
  const put = (id: string, body: Record<string, unknown>) => api(backend, 'PUT', `/api/v1/config/layers/${id}`, { token: admin, body });
  /** Waits until every agent named reports `state` for the version the backend desires for it. */
  const settled = async (agents: Agent[], state: ConfigDeviceStatus['state'] = 'applied', timeoutMs = 20_000) => {
    let last: Map<string, ConfigDeviceStatus> = new Map();
    try {
      await waitFor(async () => {
        last = await status();
        return agents.every((a) => last.get(a.deviceId)?.state === state);
      }, timeoutMs, `${agents.map((a) => a.label).join(', ')} ${state}`);
    } catch (err) {
      throw new Error(`${String(err)}\n${JSON.stringify([...last.values()], null, 1)}\n${agents.map((a) => a.proc.tail(10)).join('\n')}`, { cause: err });
    }
    return last;
  };

  beforeAll(async () => {
    // The hook refuses any config asking it to, and says why on stderr.
    writeFileSync(hook, '#!/bin/sh\nif grep -q \'"refuse": true\' "$1"; then echo "service rejected the new config" >&2; exit 7; fi\nexit 0\n');
    chmodSync(hook, 0o755);
    backend = await startBackend();
    admin = await login(backend);
    [a1, a2, b1, hooked] = await Promise.all([
      enrolTagged(backend, admin, 'a1', { site: 'a' }),
      enrolTagged(backend, admin, 'a2', { site: 'a', role: 'edge' }),
      enrolTagged(backend, admin, 'b1', { site: 'b' }),
      enrolTagged(backend, admin, 'hooked', { site: 'c' }, { TETHER_CONFIG_APPLY_HOOK: hook, TETHER_CONFIG_HOOK_TIMEOUT_MS: '5000' }),
    ]);
    // Every device gets its (empty) effective config on connect.
    await settled([a1, a2, b1, hooked]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([a1, a2, b1, hooked].filter(Boolean).map((a) => a.proc.stop()));
    await backend?.stop();
    cleanup(backend.home, hookDir, ...[a1, a2, b1, hooked].filter(Boolean).map((a) => a.stateDir));
  });

  it('a change to a group layer reaches every matching agent and no other', async () => {
    const before = await status();
    const res = await put('group:site-a', { selector: { site: 'a' }, priority: 10, values: { app: { color: 'blue', limits: { cpu: 2 } } }, expectedVersion: 0, message: 'site a goes blue' });
    expect(res.status).toBe(200);
    const version = (res.body as ConfigLayer).version;
    const after = await settled([a1, a2]);
    for (const agent of [a1, a2]) {
      expect(after.get(agent.deviceId)).toMatchObject({ desiredVersion: version, state: 'applied', drift: false, reported: { version, status: 'applied', error: null } });
      expect(deviceConfig(agent)).toEqual({ version, config: { app: { color: 'blue', limits: { cpu: 2 } } } });
    }
    for (const other of [b1, hooked]) {
      expect(after.get(other.deviceId)?.desiredVersion).toBe(before.get(other.deviceId)?.desiredVersion);
      expect(deviceConfig(other)?.config).toEqual({});
    }
    // Provenance: each value names the layer it came from.
    const effective = await api(backend, 'GET', `/api/v1/config/devices/${a1.deviceId}/effective`, { token: admin });
    expect(effective.body).toMatchObject({ version, layers: ['group:site-a'], sources: { '/app/color': 'group:site-a', '/app/limits/cpu': 'group:site-a' } });
  });

  it('merges fleet → groups by priority → device override, each value from the layer that set it last', async () => {
    const fleet = await layer('fleet');
    expect((await put('fleet', { values: { app: { color: 'grey', mode: 'normal' } }, expectedVersion: fleet.version, message: 'defaults' })).status).toBe(200);
    expect((await put('group:edge', { selector: { role: 'edge' }, priority: 20, values: { app: { color: 'red' } }, expectedVersion: 0 })).status).toBe(200);
    expect((await put(`device:${a2.deviceId}`, { values: { app: { mode: 'debug' } }, expectedVersion: 0 })).status).toBe(200);
    await settled([a1, a2, b1, hooked]);
    expect(deviceConfig(a1)?.config.app).toEqual({ color: 'blue', mode: 'normal', limits: { cpu: 2 } });
    expect(deviceConfig(a2)?.config.app).toEqual({ color: 'red', mode: 'debug', limits: { cpu: 2 } });
    expect(deviceConfig(b1)?.config.app).toEqual({ color: 'grey', mode: 'normal' });
    const effective = await api(backend, 'GET', `/api/v1/config/devices/${a2.deviceId}/effective`, { token: admin });
    expect(effective.body).toMatchObject({
      layers: ['fleet', 'group:site-a', 'group:edge', `device:${a2.deviceId}`],
      sources: { '/app/color': 'group:edge', '/app/mode': `device:${a2.deviceId}`, '/app/limits/cpu': 'group:site-a' },
    });
  });

  it('a device offline during a change gets it when it reconnects', async () => {
    await b1.proc.stop();
    await waitFor(async () => (await deviceOf(backend, admin, b1.deviceId))?.online === false, 10_000, 'b1 offline');
    const fleet = await layer('fleet');
    const res = await put('fleet', { values: { app: { color: 'grey', mode: 'normal', greeting: 'hello' } }, expectedVersion: fleet.version, message: 'greet' });
    expect(res.status).toBe(200);
    const version = (res.body as ConfigLayer).version;
    const meanwhile = (await status()).get(b1.deviceId);
    expect(meanwhile).toMatchObject({ online: false, desiredVersion: version, state: 'pending', drift: true });
    expect(deviceConfig(b1)?.config.app).not.toHaveProperty('greeting');

    b1.proc = startAgent(b1.stateDir, b1.env, 'b1');
    // A cold agent start (tsx) takes seconds on a loaded machine; the bound is for the start, not the delivery.
    await waitFor(async () => (await deviceOf(backend, admin, b1.deviceId))?.online === true, 45_000, 'b1 back online');
    await settled([b1]);
    expect(deviceConfig(b1)).toEqual({ version, config: { app: { color: 'grey', mode: 'normal', greeting: 'hello' } } });
  });

  it('a failing apply hook is reported and the device keeps its previous config', async () => {
    const previous = deviceConfig(hooked);
    expect(previous?.config.app).toMatchObject({ greeting: 'hello' });
    const res = await put(`device:${hooked.deviceId}`, { values: { app: { refuse: true } }, expectedVersion: 0, message: 'this one breaks the service' });
    expect(res.status).toBe(200);
    const version = (res.body as ConfigLayer).version;
    const after = await settled([hooked], 'failed');
    expect(after.get(hooked.deviceId)).toMatchObject({ desiredVersion: version, drift: true, reported: { version, status: 'failed' } });
    expect(after.get(hooked.deviceId)?.reported?.error).toMatch(/exited with 7: service rejected the new config/);
    // Restored on the device: the file is the last good config again.
    expect(deviceConfig(hooked)).toEqual(previous);
    expect(JSON.parse(readFileSync(join(hooked.stateDir, 'config', 'last-good.json'), 'utf8'))).toEqual(previous);

    // Fixing the override applies cleanly and clears the drift.
    const fixed = await put(`device:${hooked.deviceId}`, { values: { app: { refuse: false } }, expectedVersion: version, message: 'fixed' });
    expect(fixed.status).toBe(200);
    await settled([hooked]);
    expect(deviceConfig(hooked)?.config.app).toMatchObject({ refuse: false, greeting: 'hello' });
  });

  it('two concurrent edits from the same version: one wins, the other gets CONFIG_VERSION_CONFLICT, nothing is lost', async () => {
    const base = await layer('group:site-a');
    const history = async () => ((await api(backend, 'GET', '/api/v1/config/history?target=group:site-a', { token: admin })).body as { revisions: Array<{ version: number; message: string }> }).revisions;
    const revisionsBefore = (await history()).length;
    const edit = (color: string) => put('group:site-a', { values: { app: { ...base.values.app, color } }, expectedVersion: base.version, message: `make it ${color}` });
    const answers = await Promise.all([edit('green'), edit('purple')]);
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([200, 409]);
    const loser = answers.find((a) => a.status === 409);
    expect(loser?.body).toMatchObject({ code: 'CONFIG_VERSION_CONFLICT' });
    const winner = answers.find((a) => a.status === 200)?.body as ConfigLayer;
    expect((await layer('group:site-a')).values.app?.color).toBe(winner.values.app?.color);
    expect((await history()).length).toBe(revisionsBefore + 1);

    // The loser reloads and edits again from the new version: its change lands on top of the winner's.
    const reloaded = await layer('group:site-a');
    const retry = await put('group:site-a', { values: { app: { ...reloaded.values.app, size: 'large' } }, expectedVersion: reloaded.version, message: 'retry' });
    expect(retry.status).toBe(200);
    expect((retry.body as ConfigLayer).values.app).toMatchObject({ color: winner.values.app?.color, size: 'large' });
  });

  it('refuses a value that breaks the namespace schema with its code, and writes nothing', async () => {
    const schema = { type: 'object', properties: { port: { type: 'integer', minimum: 1, maximum: 65535 } } };
    const setSchema = await api(backend, 'PUT', '/api/v1/config/schemas/net', { token: admin, body: { schema, expectedVersion: 0, message: 'ports are numbers' } });
    expect(setSchema.status).toBe(200);
    const fleet = await layer('fleet');
    const bad = await put('fleet', { values: { ...fleet.values, net: { port: 'eighty' } }, expectedVersion: fleet.version });
    expect(bad.status).toBe(422);
    expect(bad.body).toMatchObject({ code: 'CONFIG_SCHEMA_VIOLATION' });
    expect((bad.body as { message: string }).message).toContain('/net/port');
    expect((await layer('fleet')).version).toBe(fleet.version);

    // The agent's own namespace has a built-in schema.
    const badAgent = await put('fleet', { values: { ...fleet.values, agent: { samplingIntervalMs: 5 } }, expectedVersion: fleet.version });
    expect(badAgent.body).toMatchObject({ code: 'CONFIG_SCHEMA_VIOLATION' });
    const reserved = await api(backend, 'PUT', '/api/v1/config/schemas/agent', { token: admin, body: { schema: {}, expectedVersion: 0 } });
    expect(reserved.body).toMatchObject({ code: 'CONFIG_NAMESPACE_RESERVED' });
    // A schema that a stored layer would break is refused too.
    const ok = await put('fleet', { values: { ...fleet.values, net: { port: 80 } }, expectedVersion: fleet.version });
    expect(ok.status).toBe(200);
    const tighter = await api(backend, 'PUT', '/api/v1/config/schemas/net', { token: admin, body: { schema: { type: 'object', properties: { port: { type: 'integer', minimum: 1024 } } }, expectedVersion: (setSchema.body as { version: number }).version } });
    expect(tighter.body).toMatchObject({ code: 'CONFIG_SCHEMA_VIOLATION' });
    // Dry-run validation for the console editor.
    const dry = await api(backend, 'POST', '/api/v1/config/validate', { token: admin, body: { layerId: 'fleet', values: { net: { port: -1 } } } });
    expect(dry.body).toMatchObject({ ok: false, code: 'CONFIG_SCHEMA_VIOLATION', errors: [{ path: '/net/port' }] });
  });

  it('agent settings take effect without a restart', async () => {
    const from = a1.proc.lines.length;
    const fleet = await layer('fleet');
    const res = await put('fleet', { values: { ...fleet.values, agent: { samplingIntervalMs: 250, logSources: ['/var/log/syslog'] } }, expectedVersion: fleet.version, message: 'sample faster' });
    expect(res.status).toBe(200);
    const entry = await a1.proc.waitForLog((e) => e.msg === 'agent settings changed', 20_000, from);
    expect(entry.settings).toEqual({ samplingIntervalMs: 250, logSources: ['/var/log/syslog'] });
    expect(a1.proc.child.exitCode).toBeNull();
  });

  it('shows history with a diff, and rolls a layer back as a new version', async () => {
    const revisions = ((await api(backend, 'GET', '/api/v1/config/history?target=group:site-a', { token: admin })).body as { revisions: Array<{ version: number; author: string; message: string; ts: number }> }).revisions;
    expect(revisions.length).toBeGreaterThanOrEqual(3);
    const first = revisions[revisions.length - 1]!;
    const newest = revisions[0]!;
    expect(first).toMatchObject({ author: 'user:admin', message: 'site a goes blue' });
    const diff = await api(backend, 'GET', `/api/v1/config/diff?target=group:site-a&from=${first.version}&to=${newest.version}`, { token: admin });
    expect((diff.body as { changes: Array<{ path: string; kind: string }> }).changes).toEqual(expect.arrayContaining([
      expect.objectContaining({ path: '/values/app/color', kind: 'changed', before: 'blue' }),
      expect.objectContaining({ path: '/values/app/size', kind: 'added', after: 'large' }),
    ]));

    const current = await layer('group:site-a');
    const stale = await api(backend, 'POST', '/api/v1/config/layers/group:site-a/rollback', { token: admin, body: { toVersion: first.version, expectedVersion: current.version - 1 } });
    expect(stale.body).toMatchObject({ code: 'CONFIG_VERSION_CONFLICT' });
    const rolled = await api(backend, 'POST', '/api/v1/config/layers/group:site-a/rollback', { token: admin, body: { toVersion: first.version, expectedVersion: current.version } });
    expect(rolled.status).toBe(200);
    const restored = (rolled.body as { layer: ConfigLayer }).layer;
    expect(restored.version).toBeGreaterThan(current.version);
    expect(restored.values).toEqual({ app: { color: 'blue', limits: { cpu: 2 } } });
    await settled([a1]);
    expect(deviceConfig(a1)?.config.app).toMatchObject({ color: 'blue' });
    expect(deviceConfig(a1)?.config.app).not.toHaveProperty('size');
  });

  it('records every change in the audit log, and refuses edits from a viewer', async () => {
    const db = await backendDb(backend, 'main');
    try {
      const actions = await db.selectFrom('audit_log').select(['action', 'target', 'details']).where('action', 'like', 'config.%').orderBy('id').execute();
      expect(actions.map((a) => a.action)).toEqual(expect.arrayContaining(['config.layer.put', 'config.schema.put', 'config.layer.rollback']));
      expect(actions.find((a) => a.action === 'config.layer.rollback')?.target).toBe('group:site-a');
      const revisions = await db.selectFrom('config_revisions').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      expect(actions.length).toBe(Number(revisions.n));
    } finally {
      await db.destroy();
    }
    const anonymous = await api(backend, 'PUT', '/api/v1/config/layers/fleet', { body: { values: {}, expectedVersion: 0 } });
    expect(anonymous.body).toMatchObject({ code: 'UNAUTHORIZED' });
  });
});
