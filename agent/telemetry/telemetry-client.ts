import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { uptime } from 'node:os';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import { TelemetryServerMessage, type TelemetryBatch } from '../../protocol/index.js';
import type { AgentState } from '../state/agent-state.js';
import { Backoff } from '../control/backoff.js';

export interface TelemetryClientOptions {
  state: AgentState;
  stateDir: string;
  log: Logger;
  intervalMs?: number;
  backoffBaseMs?: number;
  /** Batches kept while the backend is unreachable; the oldest are dropped (and counted) beyond it. */
  maxQueued?: number;
}

/**
 * Streams telemetry batches over `/v1/agent/telemetry` with the bearer token. A batch stays
 * queued until the backend acks its seq (it acks only after storing it). This issue carries
 * uptime; the metric collectors and the on-disk spool come with monitoring.
 */
export class TelemetryClient {
  private ws: WebSocket | null = null;
  private readonly queue: TelemetryBatch[] = [];
  private nextSeq: number;
  private readonly backoff: Backoff;
  private sampler: NodeJS.Timeout | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Batches lost to the queue bound or refused by the backend. */
  dropped = 0;
  acked = 0;

  constructor(private readonly options: TelemetryClientOptions) {
    this.backoff = new Backoff(options.backoffBaseMs ?? 1_000, 60_000);
    this.nextSeq = this.readSeq();
  }

  start(): void {
    this.sampler = setInterval(() => this.sample(), this.options.intervalMs ?? 5_000);
    this.sample();
    this.connect();
  }

  /** Seq numbers survive restarts: the backend deduplicates on (device, seq). */
  private readSeq(): number {
    try {
      const n = Number(readFileSync(join(this.options.stateDir, 'telemetry.seq'), 'utf8'));
      return Number.isSafeInteger(n) && n >= 0 ? n : 0;
    } catch {
      return 0;
    }
  }

  private sample(): void {
    const batch: TelemetryBatch = { type: 'batch', seq: this.nextSeq++, metrics: [{ ts: Date.now(), name: 'uptime', value: uptime() }], logs: [] };
    writeFileSync(join(this.options.stateDir, 'telemetry.seq'), String(this.nextSeq), { mode: 0o600 });
    this.queue.push(batch);
    const max = this.options.maxQueued ?? 10_000;
    while (this.queue.length > max) {
      this.queue.shift();
      this.dropped++;
    }
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(batch));
  }

  private connect(): void {
    const { state, log } = this.options;
    const ws = new WebSocket(new URL('/v1/agent/telemetry', state.backendUrl).href, {
      ca: state.caCertPem,
      headers: { authorization: `Bearer ${state.telemetryToken}` },
      perMessageDeflate: false,
      handshakeTimeout: 15_000,
    });
    this.ws = ws;
    ws.on('open', () => {
      this.backoff.reset();
      for (const batch of this.queue) ws.send(JSON.stringify(batch));
    });
    ws.on('message', (data) => {
      let json: unknown;
      try {
        json = JSON.parse(data.toString());
      } catch {
        return;
      }
      const message = TelemetryServerMessage.safeParse(json);
      if (!message.success) return;
      const index = this.queue.findIndex((b) => b.seq === message.data.seq);
      if (index >= 0) this.queue.splice(index, 1);
      if (message.data.type === 'ack') this.acked++;
      else {
        this.dropped++;
        log.warn({ seq: message.data.seq, code: message.data.code }, 'telemetry batch refused by the backend');
      }
    });
    ws.on('unexpected-response', (_req, res) => {
      log.warn({ status: res.statusCode }, 'backend refused the telemetry upgrade');
      ws.terminate();
    });
    ws.on('error', (err) => log.debug({ err: err.message }, 'telemetry socket error'));
    ws.on('close', () => {
      if (this.ws === ws) this.ws = null;
      if (this.stopped) return;
      this.reconnectTimer = setTimeout(() => this.connect(), this.backoff.next());
    });
  }

  get queued(): number {
    return this.queue.length;
  }

  stop(): void {
    this.stopped = true;
    if (this.sampler) clearInterval(this.sampler);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.ws?.close(1000);
  }
}
