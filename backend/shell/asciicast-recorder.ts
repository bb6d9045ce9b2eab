import { closeSync, fstatSync, openSync, writevSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import type { AsciicastHeader } from '../../protocol/index.js';

/** What a recording starts with: the terminal's size, when, and a title. */
export interface RecordingStart {
  cols: number;
  rows: number;
  /** Milliseconds since the epoch. */
  startedAt: number;
  title?: string;
  /**
   * The session goes on in this process (another cluster node had it): its recording is appended
   * to, when this node sees the file (a shared recordings directory), else started here.
   */
  continued?: boolean;
}

export const DEFAULT_MAX_RECORDING_BYTES = 256 * 1024 * 1024;

/** Recorded lines are held at most this long before they are written… */
export const RECORDING_FLUSH_MS = 50;
/** …or until this many bytes are held. */
export const RECORDING_FLUSH_BYTES = 256 * 1024;

/**
 * Writes one session as asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/): a JSON
 * header line, then `[seconds, "o", text]` and `[seconds, "r", "COLSxROWS"]` lines. Output is
 * decoded as a UTF-8 stream, so a character split across two chunks is recorded whole. Each
 * chunk becomes its own event at once (its time is exact, and its strings stay small: V8 makes
 * strings past 128 KB in its large-object space, which costs more than the encoding), but lines
 * are written in batches, every RECORDING_FLUSH_MS or RECORDING_FLUSH_BYTES, in one synchronous,
 * ordered writev: a flood costs one write per batch, and a keystroke's echo never waits on the
 * disk. Past `maxBytes` a last marker line is written and recording stops (the session goes on).
 */
export class AsciicastRecorder {
  private readonly fd: number;
  /** Node's decoder, not TextDecoder: on a stream of ASCII (most terminal output) it is ~8× faster. */
  private readonly decoder = new StringDecoder('utf8');
  private written = 0;
  private full = false;
  private closed = false;
  private held: Buffer[] = [];
  private heldBytes = 0;
  private flushTimer: NodeJS.Timeout | null = null;
  private readonly startedAt: number;

  constructor(
    readonly path: string,
    start: RecordingStart,
    private readonly maxBytes: number = DEFAULT_MAX_RECORDING_BYTES,
    private readonly now: () => number = Date.now,
  ) {
    this.startedAt = start.startedAt;
    this.fd = openSync(path, start.continued ? 'a' : 'wx', 0o600);
    if (start.continued && fstatSync(this.fd).size > 0) return;
    const header: AsciicastHeader & { env: Record<string, string> } = {
      version: 2, width: start.cols, height: start.rows, timestamp: Math.floor(start.startedAt / 1000), env: { TERM: 'xterm-256color' }, ...(start.title ? { title: start.title } : {}),
    };
    this.line(header);
    this.flush();
  }

  /** Bytes recorded so far, written or waiting for the next batch. */
  get bytesWritten(): number {
    return this.written;
  }

  get truncated(): boolean {
    return this.full;
  }

  output(data: Uint8Array): void {
    const text = this.decoder.write(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    if (text.length > 0) this.event('o', text);
  }

  resize(cols: number, rows: number): void {
    this.event('r', `${cols}x${rows}`);
  }

  close(): void {
    if (this.closed) return;
    const rest = this.decoder.end();
    if (rest.length > 0) this.event('o', rest);
    this.flush();
    this.closed = true;
    closeSync(this.fd);
  }

  private event(kind: 'o' | 'r', data: string): void {
    if (this.closed || this.full) return;
    const t = Math.max(0, (this.now() - this.startedAt) / 1000);
    const line = JSON.stringify([Number(t.toFixed(6)), kind, data]);
    if (this.written + line.length > this.maxBytes) {
      this.full = true;
      this.line([Number(t.toFixed(6)), 'm', 'recording truncated: size limit reached']);
      return;
    }
    this.raw(line);
  }

  private line(value: unknown): void {
    this.raw(JSON.stringify(value));
  }

  private raw(json: string): void {
    const bytes = Buffer.from(`${json}\n`, 'utf8');
    this.held.push(bytes);
    this.heldBytes += bytes.length;
    this.written += bytes.length;
    if (this.heldBytes >= RECORDING_FLUSH_BYTES) this.flush();
    else if (this.flushTimer === null) {
      this.flushTimer = setTimeout(this.flush, RECORDING_FLUSH_MS);
      this.flushTimer.unref();
    }
  }

  /** Writes the held lines, in order. */
  private readonly flush = (): void => {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (this.heldBytes === 0) return;
    writevSync(this.fd, this.held);
    this.held = [];
    this.heldBytes = 0;
  };
}
