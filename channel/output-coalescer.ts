/**
 * Largest frame a flood is joined into: each frame costs a seal, a socket write and a wake-up in
 * three processes and an ack back, so 16 frames per MB rather than 32; small against the flow
 * window, and under V8's 128 KB large-object size.
 */
export const DEFAULT_COALESCE_BYTES = 64 * 1024;
/** Reads shorter than this leave at once when nothing is held: an echo or a prompt is not a flood. */
const BULK_READ_BYTES = 1024;

export interface OutputCoalescerOptions {
  /** Sends one joined chunk. */
  emit(data: Buffer): void;
  maxBytes?: number;
  /** Runs `fn` after the current event-loop turn (setImmediate; injected by tests). */
  defer?(fn: () => void): void;
}

/**
 * Joins a byte source's reads into larger stream frames without a timer: a PTY's output on the
 * agent, an upload's request body on the backend (16 KB per TLS record). Linux hands out PTY output at most
 * ~4 KB per read and libuv does one such read per loop turn, so a flood (`cat`, `yes`) would cost
 * one seal, one socket write, one relay and one ack per 4 KB. A bulk read is held; reads that
 * follow on the next loop turns are joined with it up to `maxBytes`, and the batch leaves after the
 * first turn that brought nothing new (microseconds: the loop does not block while a turn is
 * pending). A short read with nothing held (a keystroke's echo, a prompt) leaves at once.
 */
export class OutputCoalescer {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private grew = false;
  private scheduled = false;
  private readonly maxBytes: number;
  private readonly defer: (fn: () => void) => void;

  constructor(private readonly opts: OutputCoalescerOptions) {
    this.maxBytes = opts.maxBytes ?? DEFAULT_COALESCE_BYTES;
    this.defer = opts.defer ?? ((fn) => setImmediate(fn));
  }

  push(chunk: Buffer): void {
    if (chunk.length < BULK_READ_BYTES && this.bytes === 0) {
      this.opts.emit(chunk);
      return;
    }
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    this.grew = true;
    if (this.bytes >= this.maxBytes) {
      this.flush();
      return;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      this.defer(this.check);
    }
  }

  /** Sends what is held now (before the source ends). */
  flush(): void {
    if (this.bytes === 0) return;
    const data = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.bytes);
    this.chunks = [];
    this.bytes = 0;
    this.grew = false;
    this.opts.emit(data);
  }

  private readonly check = (): void => {
    this.scheduled = false;
    if (this.bytes === 0) return;
    // A read landed since the last check: the source is streaming, so wait one more turn.
    if (this.grew) {
      this.grew = false;
      this.scheduled = true;
      this.defer(this.check);
      return;
    }
    this.flush();
  };
}
