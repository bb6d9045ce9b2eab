import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { shellNoticeText } from '../../protocol/index.js';
import { browserHost } from '../host/host.js';
import { discardEarlyTerminal, rememberTerminalSize, startEarlyTerminal, takeEarlyTerminal } from './early-terminal.js';
import type { TerminalStatus } from './terminal-connection.js';

/** The DOM WebSocket as far as TerminalConnection uses it; no DOM in unit tests. */
class FakeSocket {
  static made: FakeSocket[] = [];
  binaryType = 'blob';
  readyState = 0;
  onopen: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  sent: string[] = [];
  closed: number | null = null;
  constructor(readonly url: string) {
    FakeSocket.made.push(this);
  }
  send(data: string): void {
    this.sent.push(data);
  }
  close(code: number): void {
    this.closed = code;
    this.readyState = 3;
  }
  opened(): void {
    this.readyState = 1;
    this.onmessage?.({ data: JSON.stringify({ type: 'opened', sessionId: '6f1c0f8e-0a4b-4c39-9d0e-2b8e5f1b2c3d', deviceId: DEV, resumed: false, offset: 0 }) } as MessageEvent);
  }
  bytes(text: string): void {
    this.onmessage?.({ data: new TextEncoder().encode(text).buffer } as MessageEvent);
  }
  notice(notice: string): void {
    this.onmessage?.({ data: JSON.stringify({ type: 'notice', notice }) } as MessageEvent);
  }
}

const DEV = 'dev_0123456789abcdefghij';
const host = browserHost({ protocol: 'https:', host: 'tether.test' });

function sinks() {
  const seen: string[] = [];
  return {
    seen,
    onOutput: (data: Uint8Array) => seen.push(`out:${new TextDecoder().decode(data)}`),
    onStatus: (status: TerminalStatus) => seen.push(`status:${status}`),
    onNotice: (text: string) => seen.push(`notice:${text}`),
  };
}

describe('early terminal', () => {
  beforeEach(() => {
    FakeSocket.made = [];
    vi.stubGlobal('WebSocket', FakeSocket);
    vi.stubGlobal('window', { innerWidth: 1280, innerHeight: 800 });
  });
  afterEach(() => {
    discardEarlyTerminal();
    vi.unstubAllGlobals();
  });

  it('holds what arrives before its pane exists and hands it over in order, then passes output through', () => {
    startEarlyTerminal(DEV, host);
    startEarlyTerminal(DEV, host); // the same route again: still one session
    expect(FakeSocket.made).toHaveLength(1);
    const socket = FakeSocket.made[0] as FakeSocket;
    expect(socket.url).toMatch(/^wss:\/\/tether\.test\/api\/v1\/shell\?deviceId=dev_\w+&cols=\d+&rows=\d+$/);
    socket.opened();
    socket.bytes('$ ');
    socket.notice('device-away');
    expect(takeEarlyTerminal('dev_other0123456789abcdef')).toBeNull();
    const taken = takeEarlyTerminal(DEV);
    expect(taken).not.toBeNull();
    expect(takeEarlyTerminal(DEV)).toBeNull();
    const pane = sinks();
    taken?.attach(pane);
    socket.bytes('ls');
    // Notices held in their place among the output.
    expect(pane.seen).toEqual(['status:open', 'out:$ ', `notice:${shellNoticeText({ type: 'notice', notice: 'device-away' })}`, 'out:ls']);
    // Taken means owned by the pane: leaving the route no longer ends it.
    discardEarlyTerminal(DEV);
    expect(socket.closed).toBeNull();
    taken?.conn.close();
  });

  it('ends a session nobody took when its route is left, or another device\'s route is entered', () => {
    // A socket still connecting is closed on purpose (1000) as soon as it opens, so the backend ends its PTY at once.
    const whenOpen = (socket: FakeSocket) => {
      socket.readyState = 1;
      socket.onopen?.({} as Event);
      return socket.closed;
    };
    startEarlyTerminal(DEV, host);
    discardEarlyTerminal(DEV);
    expect(whenOpen(FakeSocket.made[0] as FakeSocket)).toBe(1000);
    expect(takeEarlyTerminal(DEV)).toBeNull();
    startEarlyTerminal(DEV, host);
    startEarlyTerminal('dev_other0123456789abcdef', host);
    expect(whenOpen(FakeSocket.made[1] as FakeSocket)).toBe(1000);
  });

  it('opens at the size the last terminal was fitted to', () => {
    rememberTerminalSize(132, 43);
    startEarlyTerminal(DEV, host);
    expect((FakeSocket.made[0] as FakeSocket).url).toContain('cols=132&rows=43');
  });
});
