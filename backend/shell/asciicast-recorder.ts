import { closeSync, openSync, writeSync } from 'node:fs';

export interface AsciicastHeader {
  cols: number;
  rows: number;
  /** Milliseconds since the epoch. */
  startedAt: number;
  title?: string;
}

export const DEFAULT_MAX_RECORDING_BYTES = 256 * 1024 * 1024;

/** Output is held at most this long before it is written, as one event… */
export const RECORDING_FLUSH_MS = 50;
/** …or until this much is held. */
export const RECORDING_FLUSH_BYTES = 256 * 1024;

/**
 * Writes one session as asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/): a JSON
 * header line, then `[seconds, "o", text]` and `[seconds, "r", "COLSxROWS"]` lines. Output is
 * decoded as a UTF-8 stream, so a character split across two chunks is recorded whole. Output is
 * held for up to RECORDING_FLUSH_MS or RECORDING_FLUSH_BYTES and written as one event stamped
 * with its first chunk's time: a flood costs one write per batch instead of one per frame, and a
 * keystroke's echo never waits on the disk. Writes are synchronous and ordered (a resize or close
 * writes the held output first). Past `maxBytes` a last marker line is written and recording
 * stops (the session goes on).
 */
export class AsciicastRecorder {
  private readonly fd: number;
  private readonly decoder = new TextDecoder('utf-8');
  private written = 0;
  private full = false;
  private closed = false;
  private held: Uint8Array[] = [];
  private heldBytes = 0;
  private heldSince = 0;
  private flushTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly path: string,
    private readonly header: AsciicastHeader,
    private readonly maxBytes: number = DEFAULT_MAX_RECORDING_BYTES,
    private readonly now: () => number = Date.now,
  ) {
    this.fd = openSync(path, 'wx', 0o600);
    this.line({ version: 2, width: header.cols, height: header.rows, timestamp: Math.floor(header.startedAt / 1000), env: { TERM: 'xterm-256color' }, ...(header.title ? { title: header.title } : {}) });
  }

  get bytesWritten(): number {
    return this.written;
  }

  get truncated(): boolean {
    return this.full;
  }

  /** Keeps `data` until the batch is written: the caller must not reuse its memory. */
  output(data: Uint8Array): void {
    if (this.closed || this.full || data.length === 0) return;
    if (this.heldBytes === 0) {
      this.heldSince = this.now();
      this.flushTimer = setTimeout(this.flush, RECORDING_FLUSH_MS);
      this.flushTimer.unref();
    }
    this.held.push(data);
    this.heldBytes += data.length;
    if (this.heldBytes >= RECORDING_FLUSH_BYTES) this.flush();
  }

  resize(cols: number, rows: number): void {
    this.flush();
    this.event('r', `${cols}x${rows}`, this.now());
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    const rest = this.decoder.decode();
    if (rest.length > 0) this.event('o', rest, this.now());
    this.closed = true;
    closeSync(this.fd);
  }

  /** Writes the held output as one event. */
  private readonly flush = (): void => {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (this.heldBytes === 0) return;
    let text = '';
    for (const chunk of this.held) text += this.decoder.decode(chunk, { stream: true });
    this.held = [];
    this.heldBytes = 0;
    if (text.length > 0) this.event('o', text, this.heldSince);
  };

  private event(kind: 'o' | 'r', data: string, at: number): void {
    if (this.closed || this.full) return;
    const t = Math.max(0, (at - this.header.startedAt) / 1000);
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
    writeSync(this.fd, bytes);
    this.written += bytes.length;
  }
}

/** Parses an asciicast v2 file into its header and events (for tests and the console's player). */
export function parseAsciicast(text: string): { header: Record<string, unknown>; events: Array<[number, string, string]> } {
  const [first, ...rest] = text.split('\n').filter((l) => l.length > 0);
  const header = JSON.parse(first ?? '{}') as Record<string, unknown>;
  return { header, events: rest.map((l) => JSON.parse(l) as [number, string, string]) };
}
