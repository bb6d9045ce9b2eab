import { z } from 'zod';
import { SHELL_AGENT_EVENTS, SHELL_AGENT_METHODS } from './shell.js';
import { ConfigApplyParams, ConfigReport } from './config.js';
import { FILE_AGENT_EVENTS, FILE_AGENT_METHODS } from './files.js';
import { FORWARD_AGENT_EVENTS, FORWARD_AGENT_METHODS } from './forward.js';

// In its own module so that api.ts (the device list) does not import the method tables below.
export { DeviceFacts } from './device-facts.js';
import { DeviceFacts } from './device-facts.js';

/**
 * Requests the backend sends to an agent: method → params and result schemas.
 * Each side parses what it receives with these.
 */
export const AGENT_METHODS = {
  /** Answers at once with what it got; used for round-trip checks. */
  'system.echo': {
    params: z.object({ payload: z.string().max(65536) }),
    result: z.object({ payload: z.string().max(65536) }),
  },
  'system.info': {
    params: z.object({}),
    result: z.object({ facts: DeviceFacts, uptimeSeconds: z.number().nonnegative() }),
  },
  ...SHELL_AGENT_METHODS,
  ...FILE_AGENT_METHODS,
  /** The device's whole effective config; the agent validates, writes, runs its apply hook and answers with its report. */
  'config.apply': {
    params: ConfigApplyParams,
    result: ConfigReport,
  },
  ...FORWARD_AGENT_METHODS,
} as const;
export type AgentMethod = keyof typeof AGENT_METHODS;
export type AgentParams<M extends AgentMethod> = z.infer<(typeof AGENT_METHODS)[M]['params']>;
export type AgentResult<M extends AgentMethod> = z.infer<(typeof AGENT_METHODS)[M]['result']>;

export function isAgentMethod(value: string): value is AgentMethod {
  return Object.hasOwn(AGENT_METHODS, value);
}

/** Events an agent publishes to the backend. */
export const AGENT_EVENTS = {
  'device.facts': DeviceFacts,
  ...SHELL_AGENT_EVENTS,
  ...FILE_AGENT_EVENTS,
  ...FORWARD_AGENT_EVENTS,
} as const;
export type AgentEvent = keyof typeof AGENT_EVENTS;
