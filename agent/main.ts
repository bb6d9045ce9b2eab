import { uptime } from 'node:os';
import { pino, type Logger } from 'pino';
import { TetherError, type ErrorCode } from '../protocol/errors.js';
import { AGENT_METHODS } from '../protocol/methods.js';
import type { RpcPeer } from '../channel/rpc.js';
import { AgentSettingsStore } from './config/agent-settings.js';
import { ConfigApplier, configHookOptions } from './config/config-applier.js';
import { registerConfigHandlers } from './config/config-handlers.js';
import { ControlClient } from './control/control-client.js';
import { defaultFileRoots, FileRoots } from './files/file-roots.js';
import { FileTransfers } from './files/file-transfers.js';
import { ForwardAllowList } from './forward/allow-list.js';
import { RemoteAccess } from './shell/remote-access.js';
import { resolveShellConfig } from './shell/shell-config.js';
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
  backoffMaxMs?: number;
  /** Log files the agent forwards until remote settings name others (TETHER_LOG_FILES). */
  logFiles?: string[];
  /** false: do not follow the systemd journal (TETHER_JOURNAL=0). */
  journal?: boolean;
  spoolMaxBytes?: number;
  spoolMaxAgeMs?: number;
  /** The shell program remote sessions run (TETHER_SHELL, else $SHELL). */
  shell?: string;
  /** The user remote sessions run as until remote settings name one (TETHER_SHELL_USER). */
  shellUser?: string;
  /** Directories file transfer may use until remote settings name others (TETHER_FILE_ROOTS). */
  fileRoots?: string[];
  /** The config apply hook (TETHER_CONFIG_APPLY_HOOK) and its timeout (TETHER_CONFIG_HOOK_TIMEOUT_MS). */
  configHook?: string;
  configHookTimeoutMs?: number;
  /** host:port entries forwards may reach until remote settings name others (TETHER_FORWARD_ALLOW; default: loopback). */
  forwardAllow?: string[];
}

export interface RunningAgent {
  deviceId: string;
  control: ControlClient;
  telemetry: TelemetryClient;
  /** The agent's own settings from the `agent` config namespace; features subscribe to take changes live. */
  settings: AgentSettingsStore;
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
  const settings = new AgentSettingsStore();
  const configApplier = new ConfigApplier({ stateDir, log, settings, ...configHookOptions(stateDir, { hook: tuning.configHook, timeoutMs: tuning.configHookTimeoutMs }) });
  configApplier.load();
  const fileRoots = () => new FileRoots(settings.get().fileRoots ?? tuning.fileRoots ?? defaultFileRoots(), [stateDir]);
  let roots = fileRoots();
  const files = new FileTransfers({ roots: () => roots, send: (id, data) => control.sendStream(id, data), log });
  let forwardAllowList = new ForwardAllowList(settings.get().forwardAllow ?? tuning.forwardAllow);
  const remote = new RemoteAccess({ config: resolveShellConfig({ shell: tuning.shell, user: tuning.shellUser }), send: (id, data) => control.sendStream(id, data), log, forwardAllowList: () => forwardAllowList });
  const control = new ControlClient({
    state, log,
    onConnected: (rpc) => {
      registerHandlers(rpc);
      remote.register(rpc);
      files.register(rpc);
      registerConfigHandlers(rpc, configApplier);
    },
    onStream: (id, data) => {
      if (!files.onStream(id, data)) remote.onStream(id, data);
    },
    onDisconnected: () => {
      remote.onDisconnected();
      files.onDisconnected();
    },
    onFatal: (code) => reportFatal(code),
    rekeyAfterFrames: tuning.rekeyAfterFrames,
    rekeyAfterMs: tuning.rekeyAfterMs,
    heartbeatMs: tuning.heartbeatMs,
    silenceMs: tuning.silenceMs,
    backoffBaseMs: tuning.backoffBaseMs,
    backoffMaxMs: tuning.backoffMaxMs,
  });
  const telemetryInterval = () => settings.get().samplingIntervalMs ?? tuning.telemetryIntervalMs ?? 5_000;
  const telemetry = new TelemetryClient({
    state, stateDir, log, intervalMs: telemetryInterval(), backoffBaseMs: tuning.backoffBaseMs, backoffMaxMs: tuning.backoffMaxMs,
    logFiles: settings.get().logSources ?? tuning.logFiles, journal: tuning.journal,
    spool: { maxBytes: tuning.spoolMaxBytes, maxAgeMs: tuning.spoolMaxAgeMs },
  });
  settings.subscribe((next) => {
    try {
      remote.shells.setConfig(resolveShellConfig({ shell: tuning.shell, user: next.shellUser ?? tuning.shellUser }));
    } catch (err) {
      // An unknown user must not take the shell away: keep the last working one and say why.
      log.warn({ shellUser: next.shellUser, err: err instanceof Error ? err.message : String(err) }, 'shell user setting not applied');
    }
    roots = fileRoots();
    forwardAllowList = new ForwardAllowList(next.forwardAllow ?? tuning.forwardAllow);
    telemetry.setIntervalMs(telemetryInterval());
    telemetry.setLogSources(next.logSources ?? tuning.logFiles ?? []);
    log.info({ settings: next }, 'agent settings changed');
  });
  control.start();
  telemetry.start();
  log.info({ deviceId: state.deviceId, backend: state.backendUrl }, 'agent started');
  return {
    deviceId: state.deviceId, control, telemetry, settings, fatal,
    stop: () => {
      remote.close();
      files.onDisconnected();
      control.stop();
      telemetry.stop();
    },
  };
}
