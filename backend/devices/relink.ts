import { RpcError } from '../../channel/rpc.js';
import { TetherError } from '../../protocol/index.js';
import type { DeviceRouter } from './device-router.js';

export interface RelinkOptions {
  router: Pick<DeviceRouter, 'isConnected'>;
  deviceId: string;
  /** How long to wait for the device to come back. */
  withinMs: number;
  now: () => number;
  /** False once what waits has ended otherwise (closed, cancelled): stop waiting. */
  wanted(): boolean;
  /**
   * One reattach on the device's current link: true when done, false when that link was lost
   * before the answer (wait for the next). Throws the device's refusal.
   */
  attach(): Promise<boolean>;
}

export type RelinkResult = { kind: 'attached' } | { kind: 'abandoned' } | { kind: 'expired' } | { kind: 'refused'; code: string };

/** How often a relink checks whether its device is back. */
const RELINK_POLL_MS = 250;
/** Errors of a reattach that only mean "not yet": the device is not (or no longer) reachable. */
const RELINK_RETRY: ReadonlySet<string> = new Set(['DEVICE_OFFLINE', 'REQUEST_TIMEOUT', 'BUS_UNAVAILABLE']);

/**
 * Waits for a device whose link dropped (its network, or in a cluster the node holding it died)
 * to come back through any node, and reattaches what the agent kept for it (a PTY, a running
 * command). Resolves how it ended: attached, abandoned (no longer wanted), expired (not back in
 * time) or refused (the agent no longer has it).
 */
export async function relink(opts: RelinkOptions): Promise<RelinkResult> {
  const deadline = opts.now() + opts.withinMs;
  while (opts.wanted()) {
    if (opts.router.isConnected(opts.deviceId)) {
      try {
        if (await opts.attach()) return { kind: 'attached' };
      } catch (err) {
        const code = err instanceof TetherError || err instanceof RpcError ? err.code : 'INTERNAL';
        if (!RELINK_RETRY.has(code)) return { kind: 'refused', code };
      }
    }
    if (opts.now() >= deadline) return { kind: 'expired' };
    await new Promise((resolve) => setTimeout(resolve, RELINK_POLL_MS));
  }
  return { kind: 'abandoned' };
}
