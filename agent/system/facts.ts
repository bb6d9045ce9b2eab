import { arch, cpus, hostname, platform, release, totalmem } from 'node:os';
import type { DeviceFacts } from '../../protocol/methods.js';

export const AGENT_VERSION = '0.1.0';

/** Cheap hardware and OS facts, sent at enrolment and on every connect. */
export function collectFacts(): DeviceFacts {
  return {
    hostname: hostname().slice(0, 255),
    platform: platform(),
    arch: arch(),
    release: release().slice(0, 255),
    cpus: cpus().length,
    memoryBytes: totalmem(),
    agentVersion: AGENT_VERSION,
  };
}
