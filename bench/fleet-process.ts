/**
 * Runs a simulated fleet in its own process, so the fleet's timers and garbage do not land in
 * the measuring process's event loop: agents live on other machines in the real world.
 * Protocol with the parent (IPC): receives {backend, count, behaviour?}; answers {ready, deviceIds}.
 * `behaviour: 'runner'` makes the devices run commands too (bench/canned-runner.ts); they always answer `system.echo`.
 */
import type { Backend } from '../test/harness.js';
import { runnerBehaviour } from './canned-runner.js';
import { connectFleet, enrolFleet } from './fleet.js';

process.once('message', (message: { backend: Backend; count: number; behaviour?: 'echo' | 'runner' }) => {
  void (async () => {
    const devices = await enrolFleet(message.backend, message.count);
    await connectFleet(devices, message.behaviour === 'runner' ? { behaviour: runnerBehaviour() } : {});
    process.send?.({ ready: true, deviceIds: devices.map((d) => d.state.deviceId) });
  })().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
});
