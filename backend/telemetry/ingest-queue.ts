import type { Logger } from 'pino';
import { TetherError, type TelemetryBatch } from '../../protocol/index.js';
import { storeUnavailable, type StoreHealth } from '../store/store-health.js';
import type { IncomingBatch, MetricEngine, StoredBatch } from '../metrics/metric-engine.js';

export interface IngestQueueOptions {
  /** How long a batch may wait for company before the queue is written; acks wait for the write. */
  flushIntervalMs?: number;
  /** A flush writes at most this many batches in one transaction, so no single write stalls the loop. */
  maxBatchesPerFlush?: number;
  /** Batches waiting to be written; beyond this submit() refuses with RATE_LIMITED (the agent resends later). */
  maxPending?: number;
  /** First and longest wait before writing again after the database refused a flush (disk full, I/O error). */
  retryMinMs?: number;
  retryMaxMs?: number;
  /**
   * Flushes written at once (default 1). A server database (PostgreSQL) commits several
   * transactions in parallel, each on its own connection; SQLite has one writer, so more buys nothing there.
   */
  maxConcurrentFlushes?: number;
  /** Told of every outage and every successful flush (readiness). */
  health?: StoreHealth;
}

interface Pending extends IncomingBatch {
  resolve(stored: boolean): void;
  reject(err: unknown): void;
}

/**
 * Collects batches from the request path and writes them in batched, time-ordered
 * transactions on a short timer. A submit resolves only after its transaction committed,
 * so the gateway acks nothing that is not durable.
 */
export class IngestQueue {
  private pending: Pending[] = [];
  /** The wait for company after the first batch of an empty queue. */
  private timer: NodeJS.Timeout | null = null;
  /** The next flush of a backlog: right after pending I/O, without setTimeout's 1 ms minimum per chunk. */
  private next: NodeJS.Immediate | null = null;
  private readonly listeners = new Set<(stored: readonly StoredBatch[]) => void>();
  private readonly flushIntervalMs: number;
  private readonly maxBatchesPerFlush: number;
  private readonly maxPending: number;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private readonly maxConcurrentFlushes: number;
  /** Flushes whose transaction has not finished yet. */
  private readonly writes = new Set<Promise<void>>();
  /** The wait before the next attempt while the database refuses writes; 0 while it takes them. */
  private retryDelayMs = 0;
  private closed = false;
  /** Batches and samples written since start, for benchmarks and metrics. */
  readonly stats = { batches: 0, samples: 0, duplicates: 0, flushes: 0 };

  constructor(private readonly store: Pick<MetricEngine, 'ingest'>, private readonly log: Logger, private readonly options: IngestQueueOptions = {}) {
    this.flushIntervalMs = options.flushIntervalMs ?? 20;
    this.maxBatchesPerFlush = options.maxBatchesPerFlush ?? 32;
    this.maxPending = options.maxPending ?? 50_000;
    this.retryMinMs = options.retryMinMs ?? 100;
    this.retryMaxMs = options.retryMaxMs ?? 5_000;
    this.maxConcurrentFlushes = Math.max(1, options.maxConcurrentFlushes ?? 1);
  }

  /** Resolves true when stored, false when it was a resend of a stored batch. */
  submit(deviceId: string, batch: TelemetryBatch): Promise<boolean> {
    if (this.closed) return Promise.reject(new TetherError('GOING_AWAY'));
    if (this.pending.length >= this.maxPending) return Promise.reject(new TetherError('RATE_LIMITED'));
    return new Promise((resolve, reject) => {
      this.pending.push({ deviceId, batch, resolve, reject });
      if (!this.timer && !this.next) this.timer = setTimeout(() => this.flush(), Math.max(this.flushIntervalMs, this.retryDelayMs));
    });
  }

  /** Called after each committed flush with what it added (resends excluded). */
  onStored(listener: (stored: readonly StoredBatch[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get queued(): number {
    return this.pending.length;
  }

  /** Starts writing one transaction's worth now (unless enough flushes are in flight); the rest follows on the next turn of the loop. */
  flush(): void {
    this.cancelScheduled();
    if (this.writes.size >= this.maxConcurrentFlushes) return;
    const chunk = this.pending.splice(0, this.maxBatchesPerFlush);
    if (chunk.length === 0) return;
    if (this.pending.length > 0) this.next = setImmediate(() => this.flush());
    const write: Promise<void> = this.write(chunk).finally(() => {
      this.writes.delete(write);
      // A backlog that waited for this write goes on, unless a retry (or another flush) is already scheduled.
      if (this.pending.length > 0 && !this.timer && !this.next) this.next = setImmediate(() => this.flush());
    });
    this.writes.add(write);
  }

  private async write(chunk: Pending[]): Promise<void> {
    let results: Array<StoredBatch | null>;
    try {
      results = await this.store.ingest(chunk);
    } catch (err) {
      const outage = storeUnavailable(err);
      if (outage && !this.closed) {
        // Nothing of it was acked: keep the batches in order and try again later, backing off.
        this.pending.unshift(...chunk);
        this.retryDelayMs = Math.min(this.retryMaxMs, Math.max(this.retryMinMs, this.retryDelayMs * 2));
        this.options.health?.failed(outage);
        this.log.warn({ err, batches: this.pending.length, retryInMs: this.retryDelayMs }, 'telemetry flush refused by the database; retrying');
        this.cancelScheduled();
        this.timer = setTimeout(() => this.flush(), this.retryDelayMs);
        return;
      }
      this.log.error({ err, batches: chunk.length }, 'telemetry flush failed');
      for (const p of chunk) p.reject(outage ?? err);
      return;
    }
    this.retryDelayMs = 0;
    this.options.health?.succeeded();
    this.stats.flushes++;
    const stored: StoredBatch[] = [];
    chunk.forEach((p, i) => {
      const result = results[i] ?? null;
      if (result) {
        stored.push(result);
        this.stats.batches++;
        this.stats.samples += result.metrics.length + result.logs.length;
      } else this.stats.duplicates++;
      p.resolve(result !== null);
    });
    for (const listener of this.listeners) {
      try {
        listener(stored);
      } catch (err) {
        this.log.error({ err }, 'telemetry listener failed');
      }
    }
  }

  /**
   * Writes everything still queued (shutdown), then refuses new batches. A batch the database
   * refuses now is rejected, not acked: its agent still has it and sends it again.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.cancelScheduled();
    while (this.pending.length > 0 || this.writes.size > 0) {
      if (this.pending.length > 0 && this.writes.size < this.maxConcurrentFlushes) this.flush();
      else await Promise.race(this.writes);
      this.cancelScheduled();
    }
  }

  private cancelScheduled(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.next) clearImmediate(this.next);
    this.timer = null;
    this.next = null;
  }
}
