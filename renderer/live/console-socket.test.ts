import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ConsoleServerMessage } from '../../protocol/index.js';
import { consoleSocketUrl, createConsoleSocket, type ConsoleConnectionStatus, type WebSocketLike } from './console-socket.js';

interface FakeEvent {
  readonly data: unknown;
  readonly code: number;
  readonly reason: string;
}

/**
 * Stands in for the browser WebSocket, which Node has no use for here: the test plays the
 * backend by calling `serverSends` and `serverCloses`, and reads what the client did.
 */
class FakeWebSocket implements WebSocketLike {
  private readonly listeners: Array<{ type: string; listener: (event: FakeEvent) => void }> = [];
  closedByClient: { code: number | undefined; reason: string | undefined } | null = null;

  constructor(readonly url: string) {}

  addEventListener(type: 'open' | 'error', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { readonly data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: { readonly code: number; readonly reason: string }) => void): void;
  addEventListener(type: string, listener: (event: FakeEvent) => void): void {
    this.listeners.push({ type, listener });
  }

  close(code?: number, reason?: string): void {
    this.closedByClient = { code, reason };
  }

  serverSends(data: unknown): void {
    this.emit('message', { data: typeof data === 'string' ? data : JSON.stringify(data), code: 0, reason: '' });
  }

  serverCloses(code: number, reason = ''): void {
    this.emit('close', { data: undefined, code, reason });
  }

  private emit(type: string, event: FakeEvent): void {
    for (const entry of this.listeners) if (entry.type === type) entry.listener(event);
  }
}

const alice = { id: 1, username: 'alice', role: 'admin' } as const;
const READY = { type: 'ready', user: alice };
const STATUS = { type: 'device.status', id: 'dev_aaaaaaaaaaaaaaaaaaaa', online: true, lastSeen: 42 };

function setup(overrides: { createWebSocket?: (url: string) => WebSocketLike } = {}) {
  const sockets: FakeWebSocket[] = [];
  const messages: ConsoleServerMessage[] = [];
  const statuses: ConsoleConnectionStatus[] = [];
  const onSessionEnded = vi.fn();
  const client = createConsoleSocket({
    url: 'wss://console.example/api/v1/console',
    createWebSocket:
      overrides.createWebSocket ??
      ((url) => {
        const ws = new FakeWebSocket(url);
        sockets.push(ws);
        return ws;
      }),
    onMessage: (message) => messages.push(message),
    onStatus: (status) => statuses.push(status),
    onSessionEnded,
    backoff: { baseMs: 1_000, maxMs: 8_000, minMs: 0, random: () => 1 },
    stableAfterMs: 30_000,
    readyTimeoutMs: 10_000,
  });
  const latest = (): FakeWebSocket => {
    const ws = sockets.at(-1);
    if (ws === undefined) throw new Error('no socket was opened');
    return ws;
  };
  return { client, sockets, messages, statuses, onSessionEnded, latest };
}

describe('consoleSocketUrl', () => {
  it('follows the page: wss for https, ws for http', () => {
    expect(consoleSocketUrl({ protocol: 'https:', host: 'fleet.example:8443' })).toBe('wss://fleet.example:8443/api/v1/console');
    expect(consoleSocketUrl({ protocol: 'http:', host: 'localhost:5173' })).toBe('ws://localhost:5173/api/v1/console');
  });
});

describe('createConsoleSocket', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.spyOn(console, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('is live after ready and delivers every valid message in order', () => {
    const { client, messages, statuses, latest } = setup();
    client.start();
    expect(latest().url).toBe('wss://console.example/api/v1/console');
    expect(client.status()).toBe('connecting');
    latest().serverSends(READY);
    latest().serverSends(STATUS);
    expect(statuses).toEqual(['connecting', 'live']);
    expect(messages.map((m) => m.type)).toEqual(['ready', 'device.status']);
  });

  it('ignores invalid frames and keeps the connection', () => {
    const { client, messages, latest } = setup();
    client.start();
    latest().serverSends(READY);
    latest().serverSends('not json');
    latest().serverSends({ type: 'device.status', id: 'bad', online: true, lastSeen: null });
    latest().serverSends({ type: 'surprise' });
    latest().serverSends(STATUS);
    expect(messages.map((m) => m.type)).toEqual(['ready', 'device.status']);
    expect(console.warn).toHaveBeenCalledTimes(3);
    expect(latest().closedByClient).toBeNull();
  });

  it('survives a message handler that throws', () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const sockets: FakeWebSocket[] = [];
    const client = createConsoleSocket({
      url: 'ws://x/api/v1/console',
      createWebSocket: (url) => {
        const ws = new FakeWebSocket(url);
        sockets.push(ws);
        return ws;
      },
      onMessage: () => {
        throw new Error('boom');
      },
      onStatus: () => undefined,
      onSessionEnded: () => undefined,
    });
    client.start();
    sockets[0]?.serverSends(READY);
    expect(errors).toHaveBeenCalledOnce();
    expect(client.status()).toBe('live');
  });

  it('reconnects with growing delays after the socket closes, and reports reconnecting', () => {
    const { client, sockets, statuses, latest } = setup();
    client.start();
    latest().serverSends(READY);
    latest().serverCloses(1006);
    expect(client.status()).toBe('reconnecting');

    vi.advanceTimersByTime(999);
    expect(sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(2);

    latest().serverCloses(1006);
    vi.advanceTimersByTime(1_999);
    expect(sockets).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(3);

    latest().serverSends(READY);
    expect(statuses).toEqual(['connecting', 'live', 'reconnecting', 'live']);
  });

  it('caps the delay and starts over after a stable connection', () => {
    const { client, sockets, latest } = setup();
    client.start();
    for (let i = 0; i < 6; i += 1) {
      latest().serverCloses(1006);
      vi.advanceTimersByTime(8_000);
    }
    expect(sockets).toHaveLength(7);

    latest().serverSends(READY);
    vi.advanceTimersByTime(30_000);
    latest().serverCloses(1001);
    vi.advanceTimersByTime(1_000);
    expect(sockets).toHaveLength(8);
  });

  it('goes back to login on close code 4401 and does not reconnect', () => {
    const { client, sockets, onSessionEnded, latest } = setup();
    client.start();
    latest().serverSends(READY);
    latest().serverCloses(4401, 'SESSION_INVALID');
    expect(onSessionEnded).toHaveBeenCalledOnce();
    expect(client.status()).toBe('idle');
    vi.advanceTimersByTime(120_000);
    expect(sockets).toHaveLength(1);
  });

  it('drops a socket that never says ready and tries again', () => {
    const { client, sockets, latest } = setup();
    client.start();
    const first = latest();
    vi.advanceTimersByTime(10_000);
    expect(first.closedByClient?.code).toBe(1000);
    expect(client.status()).toBe('reconnecting');
    vi.advanceTimersByTime(1_000);
    expect(sockets).toHaveLength(2);
  });

  it('retries when the WebSocket cannot even be constructed', () => {
    let calls = 0;
    const { client } = setup({
      createWebSocket: (url) => {
        calls += 1;
        if (calls === 1) throw new SyntaxError('bad url');
        return new FakeWebSocket(url);
      },
    });
    client.start();
    expect(client.status()).toBe('reconnecting');
    vi.advanceTimersByTime(1_000);
    expect(calls).toBe(2);
  });

  it('stop closes the socket, cancels a pending retry, and ignores late events', () => {
    const { client, sockets, messages, latest } = setup();
    client.start();
    const first = latest();
    first.serverCloses(1006);
    client.stop();
    vi.advanceTimersByTime(60_000);
    expect(sockets).toHaveLength(1);
    expect(client.status()).toBe('idle');

    client.start();
    const second = latest();
    client.stop();
    expect(second.closedByClient).toEqual({ code: 1000, reason: 'stopped' });
    second.serverSends(READY);
    second.serverCloses(1000);
    expect(messages).toEqual([]);
    vi.advanceTimersByTime(60_000);
    expect(sockets).toHaveLength(2);
  });

  it('start is idempotent while running', () => {
    const { client, sockets } = setup();
    client.start();
    client.start();
    expect(sockets).toHaveLength(1);
  });
});
