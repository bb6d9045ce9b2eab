import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ControlMessage } from '../protocol/control.js';
import { TetherError } from '../protocol/errors.js';
import { deriveSessionKeys } from './keys.js';
import { RpcError, RpcPeer, type RpcPeerOptions } from './rpc.js';
import { SecureSession } from './secure-session.js';

const rpcCode = (code: string) => expect.objectContaining({ name: 'RpcError', code });

/** Two peers wired back to back; messages are delivered on the next microtask, as a socket would. */
function linked(opts: Partial<RpcPeerOptions> = {}) {
  const sentByA: ControlMessage[] = [];
  const sentByB: ControlMessage[] = [];
  const box: { b?: RpcPeer } = {};
  const a = new RpcPeer({
    send: (m) => {
      sentByA.push(m);
      queueMicrotask(() => box.b?.dispatch(m));
    },
    ...opts,
  });
  const b = new RpcPeer({
    send: (m) => {
      sentByB.push(m);
      queueMicrotask(() => a.dispatch(m));
    },
    ...opts,
  });
  box.b = b;
  return { a, b, sentByA, sentByB };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('RpcPeer', () => {
  it('answers a request with the handler result, sync or async', async () => {
    const { a, b } = linked();
    b.handle('add', (params) => {
      const { x, y } = params as { x: number; y: number };
      return x + y;
    });
    b.handle('later', async (params) => `got ${String(params)}`);
    await expect(a.request('add', { x: 2, y: 3 })).resolves.toBe(5);
    await expect(a.request('later', 'it')).resolves.toBe('got it');
    expect(a.pendingCount).toBe(0);
  });

  it('numbers requests and correlates out-of-order answers', async () => {
    const { a, b, sentByA } = linked();
    b.handle('wait', (ms) => new Promise((resolve) => setTimeout(() => resolve(ms), Number(ms))));
    const slow = a.request('wait', 30);
    const fast = a.request('wait', 1);
    await expect(Promise.all([slow, fast])).resolves.toEqual([30, 1]);
    expect(sentByA.map((m) => (m.type === 'req' ? m.id : -1))).toEqual([1, 2]);
  });

  it('answers an unknown method with METHOD_UNKNOWN', async () => {
    const { a } = linked();
    await expect(a.request('nope', null)).rejects.toThrow(rpcCode('METHOD_UNKNOWN'));
  });

  it("answers a handler's TetherError with its code and message", async () => {
    const { a, b } = linked();
    b.handle('pending', () => {
      throw new TetherError('DEVICE_PENDING', 'waits for approval');
    });
    await expect(a.request('pending', null)).rejects.toThrow(
      expect.objectContaining({ code: 'DEVICE_PENDING', message: 'waits for approval' }),
    );
  });

  it('answers any other failure with INTERNAL, without leaking its message, and reports it', async () => {
    const reported: string[] = [];
    const { a, b } = linked({ onInternalError: (_e, context) => reported.push(context) });
    b.handle('boom', () => {
      throw new Error('secret path /etc/x');
    });
    b.handle('reject', () => Promise.reject(new Error('also secret')));
    await expect(a.request('boom', null)).rejects.toThrow(expect.objectContaining({ code: 'INTERNAL', message: 'Internal error' }));
    await expect(a.request('reject', null)).rejects.toThrow(rpcCode('INTERNAL'));
    expect(reported).toEqual(['method boom', 'method reject']);
  });

  it('rejects with REQUEST_TIMEOUT and drops the late answer', async () => {
    vi.useFakeTimers();
    const sent: ControlMessage[] = [];
    const a = new RpcPeer({ send: (m) => void sent.push(m), defaultTimeoutMs: 1000 });
    const p = a.request('slow', null);
    const assertion = expect(p).rejects.toThrow(rpcCode('REQUEST_TIMEOUT'));
    vi.advanceTimersByTime(999);
    expect(a.pendingCount).toBe(1);
    vi.advanceTimersByTime(1);
    await assertion;
    expect(a.pendingCount).toBe(0);
    expect(a.dispatch({ type: 'res', id: 1, ok: true, result: 'late' })).toBe(true);
  });

  it('honours a per-request timeout and clears the timer on answer', async () => {
    vi.useFakeTimers();
    const a = new RpcPeer({ send: () => undefined });
    const quick = a.request('m', null, 50);
    const answered = a.request('m', null, 60_000);
    expect(vi.getTimerCount()).toBe(2);
    a.dispatch({ type: 'res', id: 2, ok: true, result: 'ok' });
    await expect(answered).resolves.toBe('ok');
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(50);
    await expect(quick).rejects.toThrow(rpcCode('REQUEST_TIMEOUT'));
    expect(vi.getTimerCount()).toBe(0);
  });

  it('refuses requests beyond maxPending with RATE_LIMITED', async () => {
    const a = new RpcPeer({ send: () => undefined, maxPending: 2 });
    const first = a.request('m', null);
    const second = a.request('m', null);
    await expect(a.request('m', null)).rejects.toThrow(rpcCode('RATE_LIMITED'));
    a.failAll('DEVICE_OFFLINE');
    await expect(first).rejects.toThrow(rpcCode('DEVICE_OFFLINE'));
    await expect(second).rejects.toThrow(rpcCode('DEVICE_OFFLINE'));
  });

  it('answers incoming requests beyond maxPending in flight with RATE_LIMITED', async () => {
    const answers: ControlMessage[] = [];
    const b = new RpcPeer({ send: (m) => void answers.push(m), maxPending: 1 });
    b.handle('hang', () => new Promise(() => undefined));
    b.dispatch({ type: 'req', id: 1, method: 'hang', params: null });
    b.dispatch({ type: 'req', id: 2, method: 'hang', params: null });
    await Promise.resolve();
    expect(answers).toEqual([{ type: 'res', id: 2, ok: false, error: { code: 'RATE_LIMITED', message: 'Too many requests' } }]);
  });

  it('failAll rejects every pending request and clears the timers', async () => {
    vi.useFakeTimers();
    const a = new RpcPeer({ send: () => undefined });
    const ps = [a.request('m', 1), a.request('m', 2)];
    a.failAll('DEVICE_OFFLINE');
    for (const p of ps) await expect(p).rejects.toThrow(expect.objectContaining({ code: 'DEVICE_OFFLINE', message: 'The device is offline' }));
    expect(vi.getTimerCount()).toBe(0);
    expect(a.pendingCount).toBe(0);
  });

  it('rejects at once when the channel is closed (send returns false) or refuses the message', async () => {
    const closed = new RpcPeer({ send: () => false });
    await expect(closed.request('m', null)).rejects.toThrow(rpcCode('DEVICE_OFFLINE'));
    expect(closed.pendingCount).toBe(0);
    const tooBig = new RpcPeer({
      send: () => {
        throw new TetherError('FRAME_TOO_LARGE');
      },
    });
    await expect(tooBig.request('m', 'x')).rejects.toThrow(rpcCode('FRAME_TOO_LARGE'));
    const buggy = new RpcPeer({
      send: () => {
        throw new TypeError('Do not know how to serialize a BigInt');
      },
    });
    await expect(buggy.request('m', 1n)).rejects.toThrow(rpcCode('INTERNAL'));
  });

  it('answers with the send error when the result cannot be sent', async () => {
    const answers: ControlMessage[] = [];
    const b = new RpcPeer({
      send: (m) => {
        if (m.type === 'res' && m.ok) throw new TetherError('FRAME_TOO_LARGE');
        answers.push(m);
      },
    });
    b.handle('big', () => 'x'.repeat(10));
    b.dispatch({ type: 'req', id: 9, method: 'big', params: null });
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(answers).toEqual([{ type: 'res', id: 9, ok: false, error: expect.objectContaining({ code: 'FRAME_TOO_LARGE' }) }]);
  });

  it('keeps error answers within the wire bounds', async () => {
    const answers: ControlMessage[] = [];
    const b = new RpcPeer({ send: (m) => void answers.push(m) });
    b.handle('long', () => {
      throw new RpcError('X'.repeat(100), 'y'.repeat(10_000));
    });
    b.dispatch({ type: 'req', id: 1, method: 'long', params: null });
    await new Promise((resolve) => setTimeout(resolve, 0));
    const [res] = answers;
    expect(res?.type === 'res' && res.error?.code.length).toBe(64);
    expect(res?.type === 'res' && res.error?.message.length).toBe(4096);
  });

  it('treats a failed answer without an error as INTERNAL', async () => {
    const a = new RpcPeer({ send: () => undefined });
    const p = a.request('m', null);
    a.dispatch({ type: 'res', id: 1, ok: false });
    await expect(p).rejects.toThrow(rpcCode('INTERNAL'));
  });

  it('delivers events to every listener, isolating a throwing one', async () => {
    const reported: string[] = [];
    const { a, b } = linked({ onInternalError: (_e, context) => reported.push(context) });
    const seen: Array<[string, unknown]> = [];
    b.onEvent(() => {
      throw new Error('listener bug');
    });
    b.onEvent((name, data) => seen.push([name, data]));
    expect(a.emit('status', { up: true })).toBe(true);
    await Promise.resolve();
    expect(seen).toEqual([['status', { up: true }]]);
    expect(reported).toEqual(['event status']);
    expect(new RpcPeer({ send: () => false }).emit('x', 1)).toBe(false);
  });

  it('dispatches only req/res/evt', () => {
    const a = new RpcPeer({ send: () => undefined });
    const others: ControlMessage[] = [
      { type: 'welcome', deviceId: 'dev_abcdefghijklmnopqrstuvwx', heartbeatMs: 1 },
      { type: 'ping', ts: 1 },
      { type: 'pong', ts: 1 },
      { type: 'rekey', ephemeral: '', nonce: '' },
      { type: 'rekey_ack', ephemeral: '', nonce: '' },
    ];
    for (const m of others) expect(a.dispatch(m)).toBe(false);
    expect(a.dispatch({ type: 'evt', name: 'e', data: null })).toBe(true);
    expect(a.dispatch({ type: 'res', id: 77, ok: true })).toBe(true);
    expect(a.dispatch({ type: 'req', id: 1, method: 'm', params: null })).toBe(true);
  });

  it('works over a SecureSession pair', async () => {
    const salt = randomBytes(32);
    const established = { keys: deriveSessionKeys(randomBytes(32), salt, 0), salt };
    const sessions: Partial<Record<'client' | 'server', SecureSession>> = {};
    const peers: Partial<Record<'client' | 'server', RpcPeer>> = {};
    for (const role of ['client', 'server'] as const) {
      const other = role === 'client' ? 'server' : 'client';
      sessions[role] = new SecureSession({
        role,
        established,
        rekeyAfterFrames: 3,
        transport: { send: (f) => queueMicrotask(() => sessions[other]?.receive(f)), close: () => undefined },
        onMessage: (m) => void peers[role]?.dispatch(m),
        onClose: () => peers[role]?.failAll('DEVICE_OFFLINE'),
      });
      const session = sessions[role];
      peers[role] = new RpcPeer({ send: (m) => session?.send(m) });
    }
    peers.client?.handle('echo', (p) => p);
    const results = await Promise.all([...Array(20).keys()].map((i) => peers.server?.request('echo', { i })));
    expect(results).toEqual([...Array(20).keys()].map((i) => ({ i })));
    expect(sessions.client?.epoch).toBeGreaterThan(0);
    const pending = peers.server?.request('echo', 'never');
    sessions.server?.close('GOING_AWAY');
    await expect(pending).rejects.toThrow(rpcCode('DEVICE_OFFLINE'));
  });
});
