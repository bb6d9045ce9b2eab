/**
 * Config delivery at fleet scale: N simulated agents (BENCH_AGENTS, default 10,000) enrolled
 * through the real API and connected with the real agent code (ControlClient: handshake, sealed
 * session, RPC), then one change to the fleet layer. `allAppliedMs` is the time from sending the
 * change until the last agent has answered `config.apply` as applied for the new version;
 * `statusConfirmedMs` until the backend's status API shows every device applied. `eventLoopMaxMs`
 * is the backend's longest event-loop stall from just before the change until every agent has
 * applied it, measured inside the backend at 1 ms resolution (bench/loop-probe.mjs).
 *
 * The simulated agents validate each config with the agent's own schemas (ConfigApplyParams,
 * AgentSettings) but do not write files or run a hook: 10,000 fsyncs would measure this disk,
 * not the delivery path. ConfigApplier's own cost is covered by its unit tests.
 */
import { fileURLToPath } from 'node:url';
import { AGENT_SETTINGS_NAMESPACE, AgentSettings, ConfigApplyParams, ConfigFleetStatus, type ConfigReport } from '../protocol/index.js';
import { api, cleanup, login, startBackend, waitFor, type Backend } from '../test/harness.js';
import { connectFleet, enrolFleet, type DeviceBehaviour, type SimulatedDevice } from './fleet.js';

/** Each device answers `config.apply` as the agent would validate it, and reports what version it applied when. */
function configBehaviour(onApplied: (deviceId: string, version: number) => void): DeviceBehaviour {
  return (device) => ({
    onConnected: (rpc) =>
      rpc.handle('config.apply', (params): ConfigReport => {
        const parsed = ConfigApplyParams.safeParse(params);
        if (!parsed.success) return { version: 0, status: 'rejected', error: 'invalid' };
        const settings = AgentSettings.safeParse(parsed.data.config[AGENT_SETTINGS_NAMESPACE] ?? {});
        if (!settings.success) return { version: parsed.data.version, status: 'rejected', error: 'agent settings' };
        onApplied(device.state.deviceId, parsed.data.version);
        return { version: parsed.data.version, status: 'applied', error: null };
      }),
  });
}

const LOOP_PROBE = fileURLToPath(new URL('./loop-probe.mjs', import.meta.url));

/** Ends the probe's current window in the backend: its longest event-loop delay and garbage-collection pause (ms). */
async function loopWindow(backend: Backend): Promise<{ maxMs: number; gcMaxMs: number; gcMaxKind: string }> {
  const from = backend.proc.json().length;
  backend.proc.child.kill('SIGUSR2');
  const line = await backend.proc.waitForLog((e) => e.msg === 'event loop delay', 30_000, from);
  return { maxMs: Number(line.maxMs), gcMaxMs: Number(line.gcMaxMs), gcMaxKind: String(line.gcMaxKind) };
}

export async function config(): Promise<Record<string, number>> {
  const count = Number(process.env.BENCH_AGENTS ?? 10_000);
  const backend = await startBackend({ env: { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${LOOP_PROBE}`.trim() } });
  const devices: SimulatedDevice[] = [];
  try {
    const admin = await login(backend);
    devices.push(...(await enrolFleet(backend, count)));
    const applied = new Map<string, { version: number; at: number }>();
    await connectFleet(devices, { behaviour: configBehaviour((id, version) => applied.set(id, { version, at: performance.now() })) });
    // Every device gets its effective config on connect; wait for those so they do not overlap the change.
    await waitFor(() => applied.size === count, 120_000, 'initial configs');

    // A new window opens here: the stall figure covers the change and nothing before it.
    await loopWindow(backend);
    const started = performance.now();
    const res = await api(backend, 'PUT', '/api/v1/config/layers/fleet', {
      token: admin,
      body: { values: { app: { bench: Date.now() }, agent: { samplingIntervalMs: 10_000 } }, expectedVersion: 0, message: 'bench' },
    });
    const putMs = performance.now() - started;
    if (res.status !== 200) throw new Error(`fleet layer write failed: ${res.status} ${JSON.stringify(res.body)}`);
    const version = (res.body as { version: number }).version;
    const done = () => [...applied.values()].every((a) => a.version === version);
    await waitFor(done, 300_000, 'every agent applied the change');
    const allAppliedMs = Math.max(...[...applied.values()].map((a) => a.at)) - started;
    const loop = await loopWindow(backend);
    process.stderr.write(`event loop: longest stall ${loop.maxMs} ms; longest garbage collection ${loop.gcMaxMs} ms (${loop.gcMaxKind})\n`);
    await waitFor(async () => {
      const status = ConfigFleetStatus.parse((await api(backend, 'GET', '/api/v1/config/status', { token: admin })).body);
      return status.devices.length === count && status.devices.every((d) => d.state === 'applied' && d.desiredVersion === version);
    }, 300_000, 'status shows every device applied');
    const statusConfirmedMs = performance.now() - started;
    return { agents: count, putMs: Math.round(putMs), allAppliedMs: Math.round(allAppliedMs), eventLoopMaxMs: loop.maxMs, gcMaxMs: loop.gcMaxMs, statusConfirmedMs: Math.round(statusConfirmedMs) };
  } finally {
    for (const device of devices) device.client?.stop();
    await backend.stop();
    cleanup(backend.home);
  }
}

// `tsx bench/config.ts` runs it alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  config().then((metrics) => process.stdout.write(`${JSON.stringify(metrics)}\n`), (err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  });
}
