import { execFileSync } from 'node:child_process';
import { pino } from 'pino';
import type { RpcPeer } from '../channel/rpc.js';
import { RemoteAccess } from '../agent/shell/remote-access.js';
import { resolveShellConfig } from '../agent/shell/shell-config.js';
import { AGENT_METHODS } from '../protocol/index.js';
import type { DeviceBehaviour } from './fleet.js';

const silent = pino({ level: 'silent' });

/**
 * A simulated device's command handler: answers `command.start` with the real `uname -a` output
 * (captured once) on its stdout stream and a `command.exit`, without forking. A thousand devices
 * share one process here, and forking a large process a thousand times measures the simulator,
 * not the backend; BENCH_FANOUT_SPAWN=1 uses the agent's real runner instead.
 */
function registerCannedRunner(rpc: RpcPeer, send: (id: number, data: Uint8Array) => boolean, output: Buffer): void {
  rpc.handle('command.start', (params) => {
    const p = AGENT_METHODS['command.start'].params.parse(params);
    setImmediate(() => {
      send(p.stdoutStreamId, output);
      rpc.emit('command.exit', { stdoutStreamId: p.stdoutStreamId, outcome: 'exited', exitCode: 0, signal: null, truncated: false });
    });
    return { pid: 1 };
  });
}

/**
 * Simulated devices that run commands (canned, or with the agent's real RemoteAccess) and answer
 * `system.echo`.
 */
export function runnerBehaviour(): DeviceBehaviour {
  const config = resolveShellConfig({ shell: process.env.TETHER_SHELL || process.env.SHELL });
  const spawnReal = process.env.BENCH_FANOUT_SPAWN === '1';
  const unameOutput = execFileSync('uname', ['-a']);
  return (_device, client) => {
    const remote = new RemoteAccess({ config, log: silent, send: (id, data) => client().sendStream(id, data) });
    return {
      onConnected: (rpc) => {
        rpc.handle('system.echo', (params) => params);
        if (spawnReal) remote.register(rpc);
        else registerCannedRunner(rpc, (id, data) => client().sendStream(id, data), unameOutput);
      },
      onStream: (id, data) => remote.onStream(id, data),
      onDisconnected: () => remote.onDisconnected(),
    };
  };
}
