import { uptime } from 'node:os';
import { pino, type Logger } from 'pino';
import { AGENT_METHODS, TetherError, type ErrorCode } from '../protocol/index.js';
import type { RpcPeer } from '../channel/rpc.js';
import { ControlClient } from './control/control-client.js';
import { loadAgentState } from './state/agent-state.js';
import { collectFacts } from './system/facts.js';
import { TelemetryClient } from './telemetry/telemetry-client.js';

/** Knobs for tests and benchmarks; production uses the defaults of ARCHITECTURE §3–4. */
export interface AgentTuning {
  rekeyAfterFrames?: number;
  rekeyAfterMs?: number;
  heartbeatMs?: number;
  silenceMs?: number;
  telemetryIntervalMs?: number;
  backoffBaseMs?: number;
}

export interface RunningAgent {
  deviceId: string;
  control: ControlClient;
  telemetry: TelemetryClient;
  /** Resolves with the fatal code when the backend refuses this device for good. */
  fatal: Promise<ErrorCode>;
  stop(): void;
}

/** Parses params with the method's schema, so a handler only ever sees typed input. */
function registerHandlers(rpc: RpcPeer): void {
  rpc.handle('system.echo', (params) => {
    const parsed = AGENT_METHODS['system.echo'].params.safeParse(params);
    if (!parsed.success) throw new TetherError('BAD_REQUEST', 'system.echo needs {payload}');
    return { payload: parsed.data.payload };
  });
  rpc.handle('system.info', () => ({ facts: collectFacts(), uptimeSeconds: uptime() }));
  rpc.emit('device.facts', collectFacts());
}

/** The agent's composition root: loads its state and keeps both channels up. */
export function runAgent(stateDir: string, tuning: AgentTuning = {}, log: Logger = pino()): RunningAgent {
  const state = loadAgentState(stateDir);
  let reportFatal: (code: ErrorCode) => void = () => undefined;
  const fatal = new Promise<ErrorCode>((resolve) => (reportFatal = resolve));
  const control = new ControlClient({
    state, log,
    onConnected: registerHandlers,
    onFatal: (code) => reportFatal(code),
    rekeyAfterFrames: tuning.rekeyAfterFrames,
    rekeyAfterMs: tuning.rekeyAfterMs,
    heartbeatMs: tuning.heartbeatMs,
    silenceMs: tuning.silenceMs,
    backoffBaseMs: tuning.backoffBaseMs,
  });
  const telemetry = new TelemetryClient({ state, stateDir, log, intervalMs: tuning.telemetryIntervalMs, backoffBaseMs: tuning.backoffBaseMs });
  control.start();
  telemetry.start();
  log.info({ deviceId: state.deviceId, backend: state.backendUrl }, 'agent started');
  return {
    deviceId: state.deviceId, control, telemetry, fatal,
    stop: () => {
      control.stop();
      telemetry.stop();
    },
  };
}
