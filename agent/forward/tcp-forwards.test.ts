import { createServer, type AddressInfo, type Server } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ForwardAllowList } from './allow-list.js';
import { forwardErrorCode, TcpForwards, type ForwardEvent } from './tcp-forwards.js';

const log = pino({ level: 'silent' });

function harness(allow: string[] = ['127.0.0.1:*'], opts: { highWaterBytes?: number; lowWaterBytes?: number } = {}) {
  const sent = new Map<number, Buffer[]>();
  const events: ForwardEvent[] = [];
  const forwards = new TcpForwards({
    send: (id, data) => {
      const list = sent.get(id) ?? [];
      list.push(Buffer.from(data));
      sent.set(id, list);
      return true;
    },
    emit: (event) => events.push(event),
    allowList: () => new ForwardAllowList(allow),
    log,
    ...opts,
  });
  const received = (id: number) => Buffer.concat(sent.get(id) ?? []).length;
  return { forwards, events, sent, received };
}

async function listen(handler: (socket: import('node:net').Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer({ allowHalfOpen: true }, handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

describe('TcpForwards', () => {
  const servers: Server[] = [];
  afterEach(() => servers.splice(0).forEach((s) => s.close()));

  it('maps socket errors to stable codes', () => {
    expect(forwardErrorCode({ code: 'ECONNREFUSED' })).toBe('FORWARD_REFUSED');
    expect(forwardErrorCode({ code: 'ETIMEDOUT' })).toBe('FORWARD_TIMEOUT');
    expect(forwardErrorCode({ code: 'EHOSTUNREACH' })).toBe('FORWARD_UNREACHABLE');
    expect(forwardErrorCode({ code: 'ENOTFOUND' })).toBe('FORWARD_UNREACHABLE');
    expect(forwardErrorCode({ code: 'ECONNRESET' })).toBe('FORWARD_RESET');
  });

  it('refuses a target outside the allow-list before connecting, and a closed port with FORWARD_REFUSED', async () => {
    const { forwards } = harness(['127.0.0.1:1-2']);
    await expect(forwards.open({ streamId: 1, host: '10.0.0.1', port: 1 })).rejects.toMatchObject({ code: 'FORWARD_NOT_ALLOWED' });
    await expect(forwards.open({ streamId: 3, host: '127.0.0.1', port: 1 })).rejects.toMatchObject({ code: 'FORWARD_REFUSED' });
    expect(forwards.size).toBe(0);
  });

  it('pauses the socket above the high mark until the backend acks, then resumes', async () => {
    const { server, port } = await listen((socket) => socket.end(Buffer.alloc(200_000, 7)));
    servers.push(server);
    const { forwards, received } = harness(['127.0.0.1:*'], { highWaterBytes: 50_000, lowWaterBytes: 10_000 });
    await forwards.open({ streamId: 1, host: '127.0.0.1', port });
    await new Promise((r) => setTimeout(r, 200));
    const before = received(1);
    expect(before).toBeGreaterThanOrEqual(50_000);
    expect(before).toBeLessThan(200_000);
    for (let i = 0; i < 20 && received(1) < 200_000; i++) {
      forwards.ack(1, received(1));
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(received(1)).toBe(200_000);
  });

  it('writes what the backend sends, acks it once written, and carries half-closes both ways', async () => {
    const { server, port } = await listen((socket) => {
      let got = 0;
      socket.on('data', (c: Buffer) => (got += c.length));
      socket.on('end', () => socket.end(`got ${got}`));
    });
    servers.push(server);
    const { forwards, events, sent } = harness();
    await forwards.open({ streamId: 4, host: '127.0.0.1', port });
    forwards.write(4, Buffer.alloc(70_000));
    forwards.end(4);
    await new Promise((r) => setTimeout(r, 300));
    const acked = events.filter((e) => e.name === 'forward.ack').reduce((n, e) => n + (e.name === 'forward.ack' ? e.data.bytes : 0), 0);
    expect(acked).toBe(70_000);
    expect(Buffer.concat(sent.get(4) ?? []).toString()).toBe('got 70000');
    expect(events.map((e) => e.name).filter((n) => n !== 'forward.ack')).toEqual(['forward.end', 'forward.closed']);
    expect(events.at(-1)).toEqual({ name: 'forward.closed', data: { streamId: 4, code: null } });
  });

  it('a close by the backend is silent and frees the stream id', async () => {
    const { server, port } = await listen(() => undefined);
    servers.push(server);
    const { forwards, events } = harness();
    await forwards.open({ streamId: 5, host: '127.0.0.1', port });
    expect(forwards.close(5)).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(events).toEqual([]);
    expect(forwards.has(5)).toBe(false);
  });
});
