/**
 * The simulated fleet of the reconnect storm, in its own process: enrols `count` devices, puts a
 * TCP proxy (test/hardening/tcp-proxy.ts) between them and the backend, connects them, and on
 * `drop` resets every connection at once. The agents' own reconnect logic (ControlClient, full
 * jitter backoff) brings them back; this process reports when each device is connected again.
 * IPC: receives {backend, count} then 'drop'; sends {ready}, {reconnected, total} and {done, ms}.
 */
import { startTcpProxy } from '../test/hardening/tcp-proxy.js';
import type { Backend } from '../test/harness.js';
import { connectFleet, enrolFleet, type DeviceBehaviour } from './fleet.js';

process.once('message', (message: { backend: Backend; count: number }) => {
  void (async () => {
    const { backend, count } = message;
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: backend.port });
    const devices = await enrolFleet(backend, count);
    for (const d of devices) d.state = { ...d.state, backendUrl: `https://127.0.0.1:${proxy.port}` };
    const connects = new Map<string, number>();
    let dropped = false;
    let dropAt = 0;
    let reconnected = 0;
    const behaviour: DeviceBehaviour = (device) => ({
      onConnected: (rpc) => {
        rpc.handle('system.echo', (params) => params);
        const id = device.state.deviceId;
        const n = (connects.get(id) ?? 0) + 1;
        connects.set(id, n);
        if (dropped && n === 2) {
          reconnected++;
          if (reconnected === count) process.send?.({ done: true, ms: Date.now() - dropAt });
        }
      },
    });
    await connectFleet(devices, { behaviour });
    process.on('message', (m: unknown) => {
      if (m !== 'drop') return;
      dropped = true;
      dropAt = Date.now();
      proxy.cutAll();
      const timer = setInterval(() => process.send?.({ reconnected, total: count }), 1_000);
      timer.unref();
    });
    process.send?.({ ready: true });
  })().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
});
