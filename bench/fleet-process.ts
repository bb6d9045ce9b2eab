/**
 * Runs a simulated fleet in its own process, so the fleet's timers and garbage do not land in
 * the measuring process's event loop: agents live on other machines in the real world.
 * Protocol with the parent (IPC): receives {backend, count}; answers {ready, deviceIds}.
 */
import type { Backend } from '../test/harness.js';
import { connectFleet, enrolFleet } from './fleet.js';

process.once('message', (message: { backend: Backend; count: number }) => {
  void (async () => {
    const devices = await enrolFleet(message.backend, message.count);
    await connectFleet(devices);
    process.send?.({ ready: true, deviceIds: devices.map((d) => d.state.deviceId) });
  })().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
});
