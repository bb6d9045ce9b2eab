import { ERRORS, type ConsoleClientMessage, type ConsoleServerMessage } from '../../protocol/index.js';
import { parseConsoleMessage } from '../api/console-messages.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';

/**
 * What the console socket shows the user. `connecting` is the first attempt after login,
 * `reconnecting` every later one, `idle` when logged out.
 */
export type ConsoleConnectionStatus = 'idle' | 'connecting' | 'live' | 'reconnecting';

/**
 * The part of the browser `WebSocket` this client uses. The browser's own class satisfies it,
 * and tests pass a fake.
 */
export interface WebSocketLike {
  addEventListener(type: 'open' | 'error', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { readonly data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: { readonly code: number; readonly reason: string }) => void): void;
  close(code?: number, reason?: string): void;
  /** Present on the browser's WebSocket; fakes in tests that never send may leave it out. */
  send?(data: string): void;
}

export interface ConsoleSocketOptions {
  url: string;
  createWebSocket: (url: string) => WebSocketLike;
  /** Every valid message, `ready` included, in arrival order. */
  onMessage: (message: ConsoleServerMessage) => void;
  onStatus: (status: ConsoleConnectionStatus) => void;
  /** The backend closed with 4401: the session is gone and reconnecting cannot help. */
  onSessionEnded: () => void;
  backoff?: BackoffOptions;
  /** A connection that stayed live this long starts the next reconnect series from the first delay. */
  stableAfterMs?: number;
  /** A socket that has not said `ready` by then is dropped and retried. */
  readyTimeoutMs?: number;
  now?: () => number;
}

export interface ConsoleSocket {
  /** Connects and keeps reconnecting until {@link stop} or a 4401 close. Idempotent. */
  start(): void;
  stop(): void;
  status(): ConsoleConnectionStatus;
  /** Sends a message when live; false when not (callers re-send their state on the next `ready`). */
  send(message: ConsoleClientMessage): boolean;
}

/** `ws://` or `wss://` to `/api/v1/console` on the page's own origin. */
export function consoleSocketUrl(location: { protocol: string; host: string }): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/console`;
}

const NORMAL_CLOSURE = 1000;
const SESSION_CLOSE_CODE: number = ERRORS.SESSION_INVALID.close;

/** The console's live connection: parses every frame, reconnects with backoff, stops on 4401. */
export function createConsoleSocket(options: ConsoleSocketOptions): ConsoleSocket {
  const { url, createWebSocket, onMessage, onStatus, onSessionEnded } = options;
  const stableAfterMs = options.stableAfterMs ?? 30_000;
  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
  const now = options.now ?? Date.now;

  let running = false;
  let status: ConsoleConnectionStatus = 'idle';
  let socket: WebSocketLike | null = null;
  let attempt = 0;
  let liveSince: number | null = null;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let readyTimer: ReturnType<typeof setTimeout> | undefined;

  function setStatus(next: ConsoleConnectionStatus): void {
    if (next === status) return;
    status = next;
    onStatus(next);
  }

  function connect(): void {
    retryTimer = undefined;
    let ws: WebSocketLike;
    try {
      ws = createWebSocket(url);
    } catch (error) {
      console.warn('console socket: cannot open', error);
      scheduleReconnect();
      return;
    }
    socket = ws;
    liveSince = null;
    readyTimer = setTimeout(() => {
      console.warn('console socket: no ready message in time');
      detach(ws);
      ws.close(NORMAL_CLOSURE, 'ready timeout');
      scheduleReconnect();
    }, readyTimeoutMs);
    ws.addEventListener('message', (event) => {
      if (ws !== socket) return;
      const message = parseConsoleMessage(event.data);
      if (message === null) return;
      if (message.type === 'ready') {
        clearTimeout(readyTimer);
        liveSince = now();
        setStatus('live');
      }
      try {
        onMessage(message);
      } catch (error) {
        console.error('console socket: a message handler failed', error);
      }
    });
    ws.addEventListener('close', (event) => {
      if (ws !== socket) return;
      detach(ws);
      if (event.code === SESSION_CLOSE_CODE) {
        running = false;
        setStatus('idle');
        onSessionEnded();
        return;
      }
      if (running) scheduleReconnect();
    });
    // The browser follows every error with a close; the close decides what happens next.
    ws.addEventListener('error', () => undefined);
  }

  function detach(ws: WebSocketLike): void {
    if (socket !== ws) return;
    socket = null;
    clearTimeout(readyTimer);
    if (liveSince !== null && now() - liveSince >= stableAfterMs) attempt = 0;
    liveSince = null;
  }

  function scheduleReconnect(): void {
    if (!running) return;
    setStatus('reconnecting');
    const delay = backoffDelay(attempt, options.backoff);
    attempt += 1;
    retryTimer = setTimeout(connect, delay);
  }

  return {
    start() {
      if (running) return;
      running = true;
      attempt = 0;
      setStatus('connecting');
      connect();
    },
    stop() {
      running = false;
      clearTimeout(retryTimer);
      retryTimer = undefined;
      const ws = socket;
      if (ws !== null) {
        detach(ws);
        ws.close(NORMAL_CLOSURE, 'stopped');
      }
      setStatus('idle');
    },
    status: () => status,
    send(message) {
      if (socket === null || status !== 'live' || socket.send === undefined) return false;
      socket.send(JSON.stringify(message));
      return true;
    },
  };
}
