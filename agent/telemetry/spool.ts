import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { TelemetryBatch } from '../../protocol/telemetry.js';

export interface SpoolOptions {
  dir: string;
  /** Bytes of batches kept on disk; the oldest are dropped beyond it. */
  maxBytes?: number;
  /** Batches older than this are dropped (the backend would refuse their timestamps anyway). */
  maxAgeMs?: number;
  now?: () => number;
}

interface Entry { seq: number; bytes: number; createdAt: number; samples: number; file: string }

export const DEFAULT_SPOOL_MAX_BYTES = 64 * 1024 * 1024;
export const DEFAULT_SPOOL_MAX_AGE_MS = 6 * 24 * 3600 * 1000;
const FILE = /^(\d+)-(\d+)\.json$/;
const DROPPED_FILE = 'dropped';

/**
 * Telemetry batches on disk until the backend acks them: one fsynced file per batch, named
 * `<seq>-<samples>.json`, so a restart finds every unacked batch and how much it held.
 * Bounded by bytes and age, oldest dropped first; the number of samples dropped is counted
 * (and survives restarts) so the agent can report what it lost.
 */
export class Spool {
  private readonly entries: Entry[] = [];
  private totalBytes = 0;
  private droppedSamples: number;
  private readonly maxBytes: number;
  private readonly maxAgeMs: number;
  private readonly now: () => number;

  constructor(private readonly options: SpoolOptions) {
    this.maxBytes = options.maxBytes ?? DEFAULT_SPOOL_MAX_BYTES;
    this.maxAgeMs = options.maxAgeMs ?? DEFAULT_SPOOL_MAX_AGE_MS;
    this.now = options.now ?? Date.now;
    mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    for (const name of readdirSync(options.dir)) {
      const match = FILE.exec(name);
      if (!match) {
        if (name.endsWith('.tmp')) unlinkSync(join(options.dir, name));
        continue;
      }
      const stat = statSync(join(options.dir, name));
      this.entries.push({ seq: Number(match[1]), samples: Number(match[2]), bytes: stat.size, createdAt: stat.mtimeMs, file: name });
      this.totalBytes += stat.size;
    }
    this.entries.sort((a, b) => a.seq - b.seq);
    const stored = Number(readOr(join(options.dir, DROPPED_FILE), '0'));
    this.droppedSamples = Number.isSafeInteger(stored) && stored >= 0 ? stored : 0;
  }

  /** Samples (metrics and log lines) lost to the bounds or refused by the backend, ever. */
  get dropped(): number {
    return this.droppedSamples;
  }

  get size(): number {
    return this.entries.length;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** The highest seq on disk, or -1. */
  get lastSeq(): number {
    return this.entries.at(-1)?.seq ?? -1;
  }

  seqs(): number[] {
    return this.entries.map((e) => e.seq);
  }

  /** Writes a batch durably, then enforces the bounds (never dropping the batch just written unless it alone is too big). */
  append(batch: TelemetryBatch): void {
    const samples = batch.metrics.length + batch.logs.length;
    const file = `${batch.seq}-${samples}.json`;
    const body = Buffer.from(JSON.stringify(batch));
    const tmp = join(this.options.dir, `${file}.tmp`);
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, body);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(this.options.dir, file));
    this.entries.push({ seq: batch.seq, samples, bytes: body.length, createdAt: this.now(), file });
    this.totalBytes += body.length;
    this.enforce();
  }

  /** Drops what is over the bounds, oldest first. */
  enforce(): void {
    const oldest = this.now() - this.maxAgeMs;
    let lost = 0;
    while (this.entries.length > 0) {
      const first = this.entries[0];
      if (!first) break;
      const over = this.totalBytes > this.maxBytes;
      if (!over && first.createdAt >= oldest) break;
      this.unlink(first);
      this.entries.shift();
      lost += first.samples;
    }
    if (lost > 0) this.countDropped(lost);
  }

  /** The stored batch, or null when its file is gone or corrupt (then it is dropped and counted). */
  read(seq: number): TelemetryBatch | null {
    const entry = this.entries.find((e) => e.seq === seq);
    if (!entry) return null;
    try {
      const parsed = TelemetryBatch.safeParse(JSON.parse(readFileSync(join(this.options.dir, entry.file), 'utf8')));
      if (parsed.success) return parsed.data;
    } catch {
      // fall through: unreadable
    }
    this.drop(seq);
    return null;
  }

  /** Deletes an acked batch. */
  remove(seq: number): void {
    const index = this.entries.findIndex((e) => e.seq === seq);
    const entry = this.entries[index];
    if (!entry) return;
    this.unlink(entry);
    this.entries.splice(index, 1);
  }

  /** Deletes a batch the backend refused for good, counting its samples as dropped. */
  drop(seq: number): void {
    const entry = this.entries.find((e) => e.seq === seq);
    if (!entry) return;
    this.remove(seq);
    this.countDropped(entry.samples);
  }

  private unlink(entry: Entry): void {
    this.totalBytes -= entry.bytes;
    try {
      unlinkSync(join(this.options.dir, entry.file));
    } catch {
      // already gone
    }
  }

  private countDropped(n: number): void {
    this.droppedSamples += n;
    writeFileSync(join(this.options.dir, DROPPED_FILE), String(this.droppedSamples), { mode: 0o600 });
  }
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}
