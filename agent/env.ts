import { delimiter } from 'node:path';
import { z } from 'zod';
import { envFlag, envHelp, envPositiveInt, parseEnv } from '../protocol/index.js';
import type { AgentTuning } from './main.js';

/**
 * Every environment variable the agent reads, with its meaning (listed by `--help`). Timings
 * default to ARCHITECTURE §3–4 and exist for tests and benchmarks; TETHER_AGENT_STATE is the
 * default of --state (commander reads it, so the flag still wins).
 */
export const AgentEnv = z.object({
  TETHER_AGENT_STATE: z.string().optional().describe('agent state directory, as --state (default /var/lib/tether-agent)'),
  TETHER_LOG_FILES: z.string().optional().describe(`log files to forward until remote settings name others, separated by "${delimiter}"`),
  TETHER_JOURNAL: envFlag().optional().describe('0: do not follow the systemd journal (default 1)'),
  TETHER_SHELL: z.string().optional().describe('program remote shells run (default $SHELL, else /bin/sh)'),
  SHELL: z.string().optional().describe('the login shell, used when TETHER_SHELL is unset'),
  TETHER_SHELL_USER: z.string().regex(/^[a-z_][a-z0-9_-]*$/, 'must be a user name').optional().describe('user remote shells run as until remote settings name one (the agent must run as root)'),
  TETHER_FILE_ROOTS: z.string().optional().describe(`directories file transfer may use until remote settings name others, separated by "${delimiter}" (default: the user's home and /tmp)`),
  TETHER_CONFIG_APPLY_HOOK: z.string().optional().describe('executable run after each config is written (default <state>/apply-hook when present)'),
  TETHER_CONFIG_HOOK_TIMEOUT_MS: envPositiveInt().optional().describe('how long the apply hook may run (default 30000)'),
  TETHER_TELEMETRY_INTERVAL_MS: envPositiveInt().optional().describe('metric sampling interval until remote settings set one (default 5000)'),
  TETHER_SPOOL_MAX_BYTES: envPositiveInt().optional().describe('bound of the on-disk telemetry spool in bytes'),
  TETHER_SPOOL_MAX_AGE_MS: envPositiveInt().optional().describe('oldest telemetry the spool keeps while offline'),
  TETHER_HEARTBEAT_MS: envPositiveInt().optional().describe('control channel heartbeat interval (default 30000)'),
  TETHER_SILENCE_MS: envPositiveInt().optional().describe('drop a silent control channel after this long (default 90000)'),
  TETHER_BACKOFF_BASE_MS: envPositiveInt().optional().describe('first reconnect delay (default 1000)'),
  TETHER_BACKOFF_MAX_MS: envPositiveInt().optional().describe('longest reconnect delay (default 60000)'),
  TETHER_REKEY_AFTER_MS: envPositiveInt().optional().describe('rotate session keys after this long (default 15 min)'),
  TETHER_FORWARD_ALLOW: z.string().optional().describe('host:port entries TCP forwards may reach until remote settings name others, comma-separated (default 127.0.0.1:*,[::1]:*,localhost:*)'),
  TETHER_REKEY_AFTER_FRAMES: envPositiveInt().optional().describe('rotate session keys after this many frames (default 2^20)'),
});
export type AgentEnv = z.output<typeof AgentEnv>;

export const AGENT_ENV_HELP = envHelp(AgentEnv);

/** Reads and checks the agent's variables once; BAD_REQUEST names a bad one. */
export function readAgentEnv(env: Readonly<Record<string, string | undefined>>): AgentEnv {
  return parseEnv(AgentEnv, env);
}

/** What `tether-agent run` passes to the agent from its variables. */
export function agentTuning(env: AgentEnv): AgentTuning {
  return {
    rekeyAfterFrames: env.TETHER_REKEY_AFTER_FRAMES,
    rekeyAfterMs: env.TETHER_REKEY_AFTER_MS,
    heartbeatMs: env.TETHER_HEARTBEAT_MS,
    silenceMs: env.TETHER_SILENCE_MS,
    telemetryIntervalMs: env.TETHER_TELEMETRY_INTERVAL_MS,
    backoffBaseMs: env.TETHER_BACKOFF_BASE_MS,
    backoffMaxMs: env.TETHER_BACKOFF_MAX_MS,
    logFiles: env.TETHER_LOG_FILES?.split(delimiter).filter(Boolean),
    journal: env.TETHER_JOURNAL === false ? false : undefined,
    spoolMaxBytes: env.TETHER_SPOOL_MAX_BYTES,
    spoolMaxAgeMs: env.TETHER_SPOOL_MAX_AGE_MS,
    shell: env.TETHER_SHELL ?? env.SHELL,
    shellUser: env.TETHER_SHELL_USER,
    fileRoots: env.TETHER_FILE_ROOTS?.split(delimiter).filter(Boolean),
    configHook: env.TETHER_CONFIG_APPLY_HOOK,
    configHookTimeoutMs: env.TETHER_CONFIG_HOOK_TIMEOUT_MS,
    forwardAllow: env.TETHER_FORWARD_ALLOW?.split(',').map((s) => s.trim()).filter(Boolean),
  };
}
