/**
 * A TCP proxy for network faults between an agent and the backend: cut every connection,
 * refuse new ones for a while, add latency, throttle bandwidth. Bytes pass through untouched
 * (TLS end to end), so the agent's pin and the backend's certificate still apply.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Connections currently open through the proxy. */
  readonly open: number;
  /** Connections accepted since the start. */
  readonly accepted: number;
  /** Destroys every open connection (an abrupt network cut, no FIN to the far side first). */
  cutAll(): void;
  /** While paused, new connections are accepted and dropped at once. */
  setPaused(paused: boolean): void;
  /** One-way delay per chunk and a bandwidth cap (bytes/s, 0 = none), both directions. */
  setShaping(shaping: { latencyMs?: number; bytesPerSecond?: number }): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let paused = false;
  let latencyMs = 0;
  let bytesPerSecond = 0;
  let accepted = 0;

  /** Forwards chunks from `from` to `to` in order, each after the latency and the throttle's share. */
  const pipe = (from: Socket, to: Socket) => {
    let chain = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      const delay = latencyMs + (bytesPerSecond > 0 ? (chunk.length / bytesPerSecond) * 1000 : 0);
      if (delay <= 0) {
        chain = chain.then(() => void (to.writable && to.write(chunk)));
        return;
      }
      from.pause();
      chain = chain.then(() => new Promise<void>((resolve) => setTimeout(() => {
        if (to.writable) to.write(chunk);
        from.resume();
        resolve();
      }, delay)));
    });
    from.on('end', () => void chain.then(() => to.end()));
  };

  const server: Server = createServer((client) => {
    accepted++;
    if (paused) {
      client.destroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    get open() {
      return Math.floor(sockets.size / 2);
    },
    get accepted() {
      return accepted;
    },
    cutAll: () => {
      for (const s of sockets) s.resetAndDestroy();
    },
    setPaused: (p) => {
      paused = p;
    },
    setShaping: (s) => {
      latencyMs = s.latencyMs ?? 0;
      bytesPerSecond = s.bytesPerSecond ?? 0;
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
