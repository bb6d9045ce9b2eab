import { Duplex } from 'node:stream';
import { FlowWindow } from '../../channel/flow-window.js';
import { FORWARD_ACK_BATCH_BYTES, FORWARD_ACK_DELAY_MS, TetherError, type ErrorCode } from '../../protocol/index.js';

/** What a {@link DeviceSocket} drives on the device's side (a stream plus the forward's control events). */
export interface DeviceSocketLink {
  /** Bytes to the device; false once the link is gone. */
  send(data: Buffer): boolean;
  /** The reader took `bytes` more of the device's output (credit for the agent). */
  ack(bytes: number): void;
  /** No more bytes from this side (half-close). */
  end(): void;
  /** The socket is destroyed: release the stream, and tell the agent unless it closed first. */
  close(deviceClosed: boolean): void;
}

export interface DeviceSocketOptions {
  highWaterBytes?: number;
  lowWaterBytes?: number;
  /** Device bytes nobody read beyond the credit the agent was given: an agent that ignores acks. */
  maxUnreadBytes?: number;
}

const DEFAULT_MAX_UNREAD_BYTES = 1024 * 1024;

/**
 * A TCP connection on the device, as a Node Duplex on the backend: what is written goes to the
 * device as stream bytes, held back by a {@link FlowWindow} until the agent acks that its socket
 * took them (a write's callback waits above the high mark, so `pipe` and http.request back off);
 * what the device sends is read from it and acked once the reader consumed it. So the WebSocket
 * of a forward and the web relay's HTTP client both get TCP-like back-pressure end to end.
 */
export class DeviceSocket extends Duplex {
  /** Bytes from the device / to the device. */
  bytesIn = 0;
  bytesOut = 0;
  private readonly window: FlowWindow;
  private readonly maxUnread: number;
  private waiting: ((err?: Error | null) => void) | null = null;
  private acked = 0;
  private ackTimer: NodeJS.Timeout | null = null;
  private deviceClosed = false;

  constructor(private readonly link: DeviceSocketLink, opts: DeviceSocketOptions = {}) {
    super({ allowHalfOpen: true });
    this.window = new FlowWindow(opts.highWaterBytes, opts.lowWaterBytes);
    this.maxUnread = opts.maxUnreadBytes ?? DEFAULT_MAX_UNREAD_BYTES;
  }

  /** The code the socket was destroyed with, if any. */
  get errorCode(): ErrorCode | null {
    const err = this.errored;
    return err instanceof TetherError ? err.code : err ? 'INTERNAL' : null;
  }

  // ── from the device ──

  deviceData(data: Buffer): void {
    if (this.destroyed || this.readableEnded) return;
    this.bytesIn += data.length;
    this.push(data);
    if (this.readableLength > this.maxUnread) {
      this.destroy(new TetherError('RATE_LIMITED_CHANNEL', 'The device sent beyond its credit'));
      return;
    }
    this.ackConsumed();
  }

  deviceAcked(bytes: number): void {
    if (this.window.acked(bytes) && this.waiting) {
      const callback = this.waiting;
      this.waiting = null;
      callback();
    }
  }

  deviceEnded(): void {
    if (!this.destroyed && !this.readableEnded) this.push(null);
  }

  /** The agent's socket is gone: cleanly (null) or with `code`. */
  deviceGone(code: ErrorCode | null, message?: string): void {
    this.deviceClosed = true;
    if (this.destroyed) return;
    if (code !== null) {
      this.destroy(new TetherError(code, message));
      return;
    }
    // What was read so far still reaches the reader; then the socket goes.
    this.deviceEnded();
    if (this.readableEnded) this.destroy();
    else this.once('end', () => this.destroy());
  }

  // ── Duplex ──

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.bytesOut += chunk.length;
    if (!this.link.send(chunk)) {
      callback(new TetherError('DEVICE_OFFLINE'));
      return;
    }
    if (this.window.sent(chunk.length)) this.waiting = callback;
    else callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.deviceClosed) this.link.end();
    callback();
  }

  override _read(): void {
    // Nothing to ask for: the device sends while it has credit. Consumption is seen in read().
  }

  /**
   * Every consumer (pipe, flowing mode, explicit reads) takes buffered bytes through read(), so
   * this is where what the reader consumed becomes credit for the agent. (_read is no good: it
   * runs before the bytes leave the buffer, and not again until the next push.)
   */
  override read(size?: number): unknown {
    const chunk: unknown = super.read(size);
    if (chunk !== null) this.ackConsumed();
    return chunk;
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.(err ?? new TetherError('FORWARD_RESET'));
    this.link.close(this.deviceClosed);
    callback(err);
  }

  /** Acks what the reader consumed (read from the buffer), batched like the shell's acks. */
  private ackConsumed(): void {
    if (this.destroyed) return;
    const due = this.bytesIn - this.readableLength - this.acked;
    if (due <= 0) return;
    if (due >= FORWARD_ACK_BATCH_BYTES) this.flushAck();
    else this.ackTimer ??= setTimeout(() => this.flushAck(), FORWARD_ACK_DELAY_MS);
  }

  private flushAck(): void {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    if (this.destroyed) return;
    const due = this.bytesIn - this.readableLength - this.acked;
    if (due <= 0) return;
    this.acked += due;
    this.link.ack(due);
  }
}
