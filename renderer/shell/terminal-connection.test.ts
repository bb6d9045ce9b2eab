import { describe, expect, it } from 'vitest';
import { TerminalConnection, type TerminalSocket, type TerminalStatus } from './terminal-connection.js';

class FakeSocket implements TerminalSocket {
  binaryType: BinaryType = 'blob';
  readyState = 0;
  onopen: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  sent: Array<string | Uint8Array> = [];
  constructor(readonly url: string) {}
  send(data: string | ArrayBufferLike | ArrayBufferView): void {
    this.sent.push(typeof data === 'string' ? data : new Uint8Array(data as ArrayBuffer));
  }
  closedWith: number | null = null;
  close(code?: number): void {
    this.closedWith = code ?? 1005;
    this.readyState = 3;
  }
  serverText(msg: unknown): void {
    this.readyState = 1;
    this.onmessage?.({ data: JSON.stringify(msg) } as MessageEvent);
  }
  serverBytes(bytes: number[]): void {
    this.onmessage?.({ data: new Uint8Array(bytes).buffer } as MessageEvent);
  }
  drop(code: number, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason } as CloseEvent);
  }
  json(): unknown[] {
    return this.sent.filter((s): s is string => typeof s === 'string').map((s) => JSON.parse(s) as unknown);
  }
}

function setup() {
  const sockets: FakeSocket[] = [];
  const statuses: Array<[TerminalStatus, string | undefined]> = [];
  const output: number[] = [];
  const notices: string[] = [];
  const timers: Array<() => void> = [];
  const conn = new TerminalConnection({
    deviceId: 'dev_0123456789abcdefghij', cols: 80, rows: 24,
    url: (q) => `wss://h/api/v1/shell?${new URLSearchParams(q).toString()}`,
    createSocket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    onOutput: (d) => output.push(...d),
    onStatus: (s, d) => statuses.push([s, d]),
    onNotice: (text) => notices.push(text),
    setTimer: (fn) => timers.push(fn),
  });
  return { conn, sockets, statuses, output, notices, timers };
}

const SID = '6f1c0f8e-0a4b-4c39-9d0e-2b8e5f1b2c3d';

describe('TerminalConnection', () => {
  it('closes on purpose (the code that ends the PTY at once), waiting for a socket still connecting to open', () => {
    const { conn, sockets } = setup();
    const s = sockets[0] as FakeSocket;
    conn.close();
    expect(s.closedWith).toBeNull();
    s.readyState = 1;
    s.onopen?.({} as Event);
    expect(s.closedWith).toBe(1000);

    const open = setup();
    const o = open.sockets[0] as FakeSocket;
    o.serverText({ type: 'opened', sessionId: SID, deviceId: 'dev_0123456789abcdefghij', resumed: false, offset: 0 });
    open.conn.close();
    expect(o.closedWith).toBe(1000);
  });

  it('opens a session, passes binary output through and acks what xterm wrote', () => {
    const { conn, sockets, output, timers } = setup();
    const s = sockets[0] as FakeSocket;
    expect(s.url).toContain('deviceId=dev_0123456789abcdefghij');
    expect(s.binaryType).toBe('arraybuffer');
    s.serverText({ type: 'opened', sessionId: SID, deviceId: 'dev_0123456789abcdefghij', resumed: false });
    s.serverBytes([104, 105]);
    expect(output).toEqual([104, 105]);
    conn.written(2);
    conn.written(3);
    // Typing's echoes are acked together, shortly after.
    expect(s.json()).toEqual([]);
    timers.shift()?.();
    expect(s.json()).toEqual([{ type: 'ack', bytes: 5 }]);
    conn.input('ls\r');
    expect(s.sent.at(-1)).toEqual(new TextEncoder().encode('ls\r'));
  });

  it('passes the backend\'s notices on as text, apart from the output, which they neither count in nor end', () => {
    const { sockets, output, notices, statuses } = setup();
    const s = sockets[0] as FakeSocket;
    s.serverText({ type: 'opened', sessionId: SID, deviceId: 'dev_0123456789abcdefghij', resumed: false });
    s.serverText({ type: 'notice', notice: 'device-away' });
    s.serverBytes([104]);
    s.serverText({ type: 'notice', notice: 'device-back', droppedBytes: 70_000 });
    expect(notices).toEqual([expect.stringContaining('connection dropped'), 'the device is back; 70000 bytes typed meanwhile were dropped']);
    expect(output).toEqual([104]);
    expect(statuses.map(([status]) => status)).toEqual(['open']);
  });

  it('sends a size set while the session was opening once it is open, and nothing when it did not change', () => {
    const { conn, sockets } = setup();
    const s = sockets[0] as FakeSocket;
    s.readyState = 1; // the socket is open, the backend has not answered `opened` yet
    conn.resize(120, 40);
    expect(s.json()).toEqual([]);
    s.serverText({ type: 'opened', sessionId: SID, deviceId: 'dev_0123456789abcdefghij', resumed: false });
    expect(s.json()).toEqual([{ type: 'resize', cols: 120, rows: 40 }]);
    conn.resize(100, 30);
    expect(s.json()).toEqual([{ type: 'resize', cols: 120, rows: 40 }, { type: 'resize', cols: 100, rows: 30 }]);

    const unchanged = setup();
    (unchanged.sockets[0] as FakeSocket).serverText({ type: 'opened', sessionId: SID, deviceId: 'dev_0123456789abcdefghij', resumed: false });
    expect((unchanged.sockets[0] as FakeSocket).json()).toEqual([]);
  });

  it('batches acks for a flood, and acks its tail when output pauses', () => {
    const { conn, sockets, timers } = setup();
    const s = sockets[0] as FakeSocket;
    s.serverText({ type: 'opened', sessionId: SID, deviceId: 'dev_0123456789abcdefghij', resumed: false });
    for (let i = 0; i < 10; i++) conn.written(4096);
    expect(s.json()).toEqual([{ type: 'ack', bytes: 16384 }, { type: 'ack', bytes: 16384 }]);
    timers.shift()?.();
    expect(s.json()).toEqual([{ type: 'ack', bytes: 16384 }, { type: 'ack', bytes: 16384 }, { type: 'ack', bytes: 8192 }]);
    expect(timers).toHaveLength(0);
  });

  it('reattaches to the same session after a drop, and stops on a deliberate end', () => {
    const { sockets, statuses, timers } = setup();
    const first = sockets[0] as FakeSocket;
    first.serverText({ type: 'opened', sessionId: SID, deviceId: 'dev_0123456789abcdefghij', resumed: false });
    first.drop(1006);
    expect(statuses.at(-1)?.[0]).toBe('reconnecting');
    timers.shift()?.();
    const second = sockets[1] as FakeSocket;
    expect(second.url).toContain(`sessionId=${SID}`);
    second.serverText({ type: 'opened', sessionId: SID, deviceId: 'dev_0123456789abcdefghij', resumed: true });
    expect(statuses.at(-1)?.[0]).toBe('open');
    expect(second.json()).toContainEqual({ type: 'resize', cols: 80, rows: 24 });
    second.serverText({ type: 'ended', exitCode: 0, code: null });
    second.drop(1000, 'exited');
    expect(statuses.at(-1)).toEqual(['ended', 'exit 0']);
    expect(timers).toHaveLength(0);
  });

  it('after a reattach draws the resent output it already had once, and acks from the backend\'s offset', () => {
    const { conn, sockets, output, timers } = setup();
    const first = sockets[0] as FakeSocket;
    first.serverText({ type: 'opened', sessionId: SID, deviceId: 'dev_0123456789abcdefghij', resumed: false, offset: 0 });
    first.serverBytes([1, 2, 3, 4]);
    conn.written(4);
    timers.shift()?.();
    expect(first.json()).toEqual([{ type: 'ack', bytes: 4 }]);
    first.serverBytes([5, 6, 7, 8]);
    conn.written(2); // xterm drew 5 and 6; their ack has not left when the connection drops
    first.drop(1006);
    timers.shift()?.(); // the ack timer: no socket, nothing sent
    timers.shift()?.(); // the reconnect
    const second = sockets[1] as FakeSocket;
    // The reconnect says what this console has, for a cluster node that takes the session over.
    expect(new URL(second.url).searchParams.get('offset')).toBe('8');
    // The ack of 4 arrived: the backend resends 5..8, then new output.
    second.serverText({ type: 'opened', sessionId: SID, deviceId: 'dev_0123456789abcdefghij', resumed: true, offset: 4 });
    second.serverBytes([5, 6, 7]);
    second.serverBytes([8, 9]);
    expect(output).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    conn.written(3); // 7, 8 (queued before the drop) and 9
    timers.shift()?.();
    expect(second.json()).toContainEqual({ type: 'ack', bytes: 5 });
  });

  it('without an offset from the backend draws what it resends', () => {
    const { sockets, output, timers } = setup();
    const first = sockets[0] as FakeSocket;
    first.serverText({ type: 'opened', sessionId: SID, deviceId: 'dev_0123456789abcdefghij', resumed: false });
    first.serverBytes([1, 2]);
    first.drop(1006);
    timers.shift()?.();
    const second = sockets[1] as FakeSocket;
    second.serverText({ type: 'opened', sessionId: SID, deviceId: 'dev_0123456789abcdefghij', resumed: true });
    second.serverBytes([1, 2, 3]);
    expect(output).toEqual([1, 2, 1, 2, 3]);
  });

  it('does not retry a refusal', () => {
    const { sockets, statuses, timers } = setup();
    (sockets[0] as FakeSocket).drop(4403, 'FORBIDDEN');
    expect(statuses.at(-1)).toEqual(['ended', 'FORBIDDEN']);
    expect(timers).toHaveLength(0);
  });
});
