import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { ForwardManager } from './forward-manager.js';

/** A stand-in for the backend's /api/v1/forward: echoes in upper case, or refuses with a code, like the real one. */
async function fakeBackend(): Promise<{ url: string; close(): void }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  wss.on('connection', (ws, request) => {
    const port = Number(new URL(request.url ?? '/', 'http://x').searchParams.get('port'));
    if (port === 1) {
      ws.close(4531, 'FORWARD_REFUSED');
      return;
    }
    ws.send(JSON.stringify({ type: 'opened', forwardId: 'f', deviceId: 'dev_aaaaaaaaaaaaaaaaaaaa', host: '127.0.0.1', port }));
    ws.on('message', (data, isBinary) => {
      if (isBinary) ws.send(Buffer.from(String(data).toUpperCase()), { binary: true });
      else {
        ws.send(JSON.stringify({ type: 'end' }));
        ws.close(1000);
      }
    });
  });
  return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, close: () => wss.close() };
}

describe('ForwardManager', () => {
  let manager: ForwardManager;
  let backend: { url: string; close(): void };

  afterEach(async () => {
    await manager.stopAll();
    backend.close();
  });

  const start = async () => {
    backend = await fakeBackend();
    manager = new ForwardManager((deviceId, host, port) => new WebSocket(`${backend.url}/api/v1/forward?deviceId=${deviceId}&host=${host}&port=${port}`));
  };

  it('listens on the loopback, relays a connection with its half-close, and counts connections and bytes', async () => {
    await start();
    const changes: number[] = [];
    manager.onChange(() => changes.push(Date.now()));
    const forward = await manager.start({ deviceId: 'dev_aaaaaaaaaaaaaaaaaaaa', localPort: 0, host: '127.0.0.1', remotePort: 8080 });
    expect(forward.bind).toBe('127.0.0.1');
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: forward.localPort, allowHalfOpen: true });
      let text = '';
      socket.setEncoding('utf8').on('data', (s: string) => {
        text += s;
        if (text === 'HELLO') socket.end();
      });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
      socket.write('hello');
    });
    expect(answer).toBe('HELLO');
    await expect.poll(() => manager.list()[0]?.connections).toBe(0);
    expect(manager.list('dev_aaaaaaaaaaaaaaaaaaaa')[0]).toMatchObject({ totalConnections: 1, bytesIn: 5, bytesOut: 5, lastError: null });
    expect(manager.list('dev_other')).toEqual([]);
    expect(changes.length).toBeGreaterThan(1);
    expect(await manager.stop(forward.id)).toBe(true);
    expect(manager.list()).toEqual([]);
  });

  it("resets the local connection when the device refuses, and shows the code", async () => {
    await start();
    const forward = await manager.start({ deviceId: 'dev_aaaaaaaaaaaaaaaaaaaa', localPort: 0, host: '127.0.0.1', remotePort: 1 });
    const outcome = await new Promise<string>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port: forward.localPort });
      socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      socket.on('close', () => resolve('closed'));
    });
    expect(outcome).toBe('ECONNRESET');
    await expect.poll(() => manager.list()[0]?.lastError).toBe('FORWARD_REFUSED');
  });

  it('refuses a port already in use with CONFLICT', async () => {
    await start();
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    await expect(manager.start({ deviceId: 'dev_aaaaaaaaaaaaaaaaaaaa', localPort: port, host: '127.0.0.1', remotePort: 80 })).rejects.toMatchObject({ code: 'CONFLICT' });
    taken.close();
  });
});
