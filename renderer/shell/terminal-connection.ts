import { SHELL_ACK_BATCH_BYTES, SHELL_ACK_DELAY_MS, SHELL_CLOSE_DELIBERATE, ShellServerMessage, shellNoticeText, type ShellClientMessage } from '../../protocol/index.js';

export type TerminalStatus = 'connecting' | 'open' | 'reconnecting' | 'ended';

/** The subset of the DOM WebSocket a terminal uses (injected, so tests need no network). */
export interface TerminalSocket {
  binaryType: BinaryType;
  readyState: number;
  onopen: ((ev: Event) => void) | null;
  onmessage: ((ev: MessageEvent) => void) | null;
  onclose: ((ev: CloseEvent) => void) | null;
  send(data: string | ArrayBufferLike | ArrayBufferView): void;
  close(code?: number, reason?: string): void;
}

export interface TerminalConnectionOptions {
  deviceId: string;
  cols: number;
  rows: number;
  /** Builds `/api/v1/shell?…` for a new session or a reconnect. */
  url(query: Record<string, string>): string;
  createSocket(url: string): TerminalSocket;
  /** Raw output: the caller writes it to xterm and calls `written(bytes)` from xterm's write callback. */
  onOutput(data: Uint8Array): void;
  onStatus(status: TerminalStatus, detail?: string): void;
  /** A line from the backend about the session (the device's link dropped, …), for the terminal, not its output. */
  onNotice(text: string): void;
  /** How long to keep trying to reattach after a drop; the backend's grace period is 60 s. */
  reconnectForMs?: number;
  /** Acks are batched: one per this many written bytes, or SHELL_ACK_DELAY_MS after the first write not yet acked. */
  ackEveryBytes?: number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  now?: () => number;
}

const CONNECTING = 0;
const OPEN = 1;

/**
 * One terminal's socket: binary frames both ways, acks for what xterm has written (the
 * backend's flow control waits for them), and a reattach to the same session after a drop.
 */
export class TerminalConnection {
  private socket: TerminalSocket | null = null;
  private sessionId: string | null = null;
  private status: TerminalStatus = 'connecting';
  // Positions in the session's output, in bytes: handed to `onOutput`, drawn by xterm, acked.
  private received = 0;
  private drawn = 0;
  private acked = 0;
  /** Resent bytes after a reattach that `onOutput` already had: dropped, not drawn twice. */
  private skip = 0;
  private ackScheduled = false;
  private droppedAt = 0;
  private attempt = 0;
  /** The size the PTY was opened with (it may be asked for before the terminal is fitted). */
  private openedSize = '';
  private readonly encoder = new TextEncoder();

  constructor(private readonly opts: TerminalConnectionOptions) {
    this.connect();
  }

  get id(): string | null {
    return this.sessionId;
  }

  /** Keys typed or text pasted. */
  input(text: string): void {
    if (this.status !== 'open' || this.socket?.readyState !== OPEN) return;
    this.socket.send(this.encoder.encode(text));
  }

  resize(cols: number, rows: number): void {
    this.opts.cols = cols;
    this.opts.rows = rows;
    // Before `opened` the backend has no session to apply it to: it is sent with `opened` instead.
    if (this.status === 'open') this.control({ type: 'resize', cols, rows });
  }

  /** xterm has drawn `bytes` more output. */
  written(bytes: number): void {
    this.drawn += bytes;
    // A flood in batches; what is left (a keystroke's echo, a prompt) shortly after.
    if (this.drawn - this.acked >= (this.opts.ackEveryBytes ?? SHELL_ACK_BATCH_BYTES)) {
      this.flushAck();
      return;
    }
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    (this.opts.setTimer ?? setTimeout)(() => {
      this.ackScheduled = false;
      this.flushAck();
    }, SHELL_ACK_DELAY_MS);
  }

  /** The tab closed: the backend ends the PTY at once instead of keeping it for a reattach. */
  close(): void {
    this.setStatus('ended', 'closed');
    const socket = this.socket;
    this.socket = null;
    if (socket === null) return;
    // Closing a socket still connecting fails it (1006 at the backend, a drop): let it open, then close it on purpose.
    if (socket.readyState === CONNECTING) socket.onopen = () => socket.close(SHELL_CLOSE_DELIBERATE, 'closed');
    else socket.close(SHELL_CLOSE_DELIBERATE, 'closed');
  }

  private flushAck(): void {
    const bytes = this.drawn - this.acked;
    if (bytes <= 0) return;
    if (this.control({ type: 'ack', bytes })) this.acked = this.drawn;
  }

  private control(msg: ShellClientMessage): boolean {
    if (this.socket?.readyState !== OPEN) return false;
    this.socket.send(JSON.stringify(msg));
    return true;
  }

  private connect(): void {
    if (!this.sessionId) this.openedSize = `${this.opts.cols}x${this.opts.rows}`;
    // `offset`: what this console has, so another cluster node can take the session over from there.
    const query: Record<string, string> = this.sessionId
      ? { sessionId: this.sessionId, offset: String(this.received) }
      : { deviceId: this.opts.deviceId, cols: String(this.opts.cols), rows: String(this.opts.rows) };
    const socket = this.opts.createSocket(this.opts.url(query));
    socket.binaryType = 'arraybuffer';
    this.socket = socket;
    socket.onmessage = (ev) => {
      if (this.socket !== socket) return;
      if (ev.data instanceof ArrayBuffer) {
        const skipped = Math.min(this.skip, ev.data.byteLength);
        this.skip -= skipped;
        if (skipped === ev.data.byteLength) return;
        this.received += ev.data.byteLength - skipped;
        this.opts.onOutput(new Uint8Array(ev.data, skipped));
        return;
      }
      const parsed = ShellServerMessage.safeParse(safeJson(String(ev.data)));
      if (!parsed.success) return;
      const msg = parsed.data;
      if (msg.type === 'opened') {
        this.sessionId = msg.sessionId;
        this.attempt = 0;
        // The backend resends what it holds unacked, from `offset`: what was already received is
        // skipped, and what xterm drew of it is acked again (an ack may have been lost in the drop).
        // A backend that sends no offset resends from an unknown point: everything is drawn.
        this.acked = msg.offset ?? this.drawn;
        this.skip = msg.offset === undefined ? 0 : Math.max(0, this.received - msg.offset);
        this.setStatus('open');
        // A resize while the socket was opening could not be sent: the PTY gets its size now.
        if (msg.resumed || this.openedSize !== `${this.opts.cols}x${this.opts.rows}`) this.control({ type: 'resize', cols: this.opts.cols, rows: this.opts.rows });
      } else if (msg.type === 'notice') {
        this.opts.onNotice(shellNoticeText(msg));
      } else {
        this.setStatus('ended', msg.code ?? `exit ${msg.exitCode ?? '?'}`);
      }
    };
    socket.onclose = (ev) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.status === 'ended') return;
      // A refusal or a deliberate end from the backend is final; a drop is worth a reattach.
      const final = ev.code === 1000 || (ev.code >= 4400 && ev.code < 4500 && ev.code !== 4423) || this.sessionId === null;
      if (final) {
        this.setStatus('ended', ev.reason || `closed (${ev.code})`);
        return;
      }
      const now = (this.opts.now ?? Date.now)();
      if (this.status !== 'reconnecting') this.droppedAt = now;
      if (now - this.droppedAt > (this.opts.reconnectForMs ?? 55_000)) {
        this.setStatus('ended', 'connection lost');
        return;
      }
      this.setStatus('reconnecting');
      const delay = Math.min(5000, 250 * 2 ** this.attempt++);
      (this.opts.setTimer ?? setTimeout)(() => this.connect(), delay);
    };
  }

  private setStatus(status: TerminalStatus, detail?: string): void {
    if (this.status === 'ended') return;
    this.status = status;
    this.opts.onStatus(status, detail);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
