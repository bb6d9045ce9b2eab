import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import { TELEMETRY_LIMITS, TelemetryServerMessage, type LogLine, type MetricSample, type TelemetryBatch } from '../../protocol/telemetry.js';
import type { AgentState } from '../state/agent-state.js';
import { Backoff } from '../control/backoff.js';
import { LogForwarder } from '../logs/log-forwarder.js';
import { MetricSampler, type SamplerOptions } from '../metrics/sampler.js';
import { Spool } from './spool.js';
import { zeroMask } from '../net/zero-mask.js';

export interface TelemetryClientOptions {
  state: AgentState;
  stateDir: string;
  log: Logger;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  spool?: { maxBytes?: number; maxAgeMs?: number };
  /** Batches sent and not yet acked at once; the rest wait on disk. */
  window?: number;
  /** Sampling period (default 5 s); {@link TelemetryClient.setIntervalMs} changes it live. */
  intervalMs?: number;
  sampler?: Omit<SamplerOptions, 'intervalMs'>;
  /** Log files to forward; {@link TelemetryClient.setLogSources} changes them live. */
  logFiles?: string[];
  /** Follow the systemd journal where there is one (default true). */
  journal?: boolean;
}

/** The counter of samples the spool lost, sent with every metrics batch. */
export const DROPPED_METRIC = 'agent.spool.dropped';

/**
 * Streams telemetry batches over `/v1/agent/telemetry` with the bearer token. Every batch is
 * written to the on-disk {@link Spool} before it is sent and deleted only when the backend
 * acks its seq (it acks only after its transaction committed), so a backend outage or an
 * agent restart loses nothing within the spool's bounds.
 */
export class TelemetryClient {
  private ws: WebSocket | null = null;
  private nextSeq: number;
  private readonly backoff: Backoff;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly inflight = new Set<number>();
  readonly spool: Spool;
  readonly sampler: MetricSampler;
  private logs: LogForwarder;
  private started = false;
  private logFiles: string[];
  /** Batches the backend acked since start. */
  acked = 0;

  constructor(private readonly options: TelemetryClientOptions) {
    this.backoff = new Backoff(options.backoffBaseMs ?? 1_000, options.backoffMaxMs ?? 60_000);
    this.spool = new Spool({ dir: join(options.stateDir, 'spool'), ...options.spool });
    this.nextSeq = Math.max(this.readSeq(), this.spool.lastSeq + 1);
    this.sampler = new MetricSampler((samples) => this.submit(samples), { ...options.sampler, intervalMs: options.intervalMs });
    this.logFiles = options.logFiles ?? [];
    this.logs = this.makeForwarder(this.logFiles);
  }

  private makeForwarder(files: string[]): LogForwarder {
    return new LogForwarder((lines) => this.submit([], lines), { files, journal: this.options.journal });
  }

  start(): void {
    this.started = true;
    this.sampler.start();
    this.logs.start();
    this.connect();
  }

  /** Sampling period from the agent settings (remote config). */
  setIntervalMs(ms: number): void {
    this.sampler.setIntervalMs(ms);
  }

  /** Log files from the agent settings; absolute paths are files, anything else is ignored here. */
  setLogSources(sources: readonly string[]): void {
    const files = sources.filter((s) => s.startsWith('/'));
    if (JSON.stringify(files) === JSON.stringify(this.logFiles)) return;
    this.logFiles = files;
    this.logs.stop();
    this.logs = this.makeForwarder(files);
    if (this.started) this.logs.start();
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

  /** Spools one batch of samples and log lines, then sends it when the link is up. */
  submit(metrics: MetricSample[], logs: LogLine[] = []): void {
    if (metrics.length === 0 && logs.length === 0) return;
    const ts = metrics[0]?.ts ?? Date.now();
    // Split what would exceed the per-batch limits instead of having the backend refuse it.
    for (let m = 0, l = 0; m < metrics.length || l < logs.length; ) {
      const mPart = metrics.slice(m, m + TELEMETRY_LIMITS.maxMetricsPerBatch - 1);
      const lPart = takeLogs(logs, l, TELEMETRY_LIMITS.maxLogsPerBatch, TELEMETRY_LIMITS.maxBatchBytes / 2);
      m += mPart.length;
      l += lPart.length;
      const withCounter = mPart.length > 0 ? [...mPart, { ts, name: DROPPED_METRIC, value: this.spool.dropped }] : mPart;
      const batch: TelemetryBatch = { type: 'batch', seq: this.nextSeq++, metrics: withCounter, logs: lPart };
      writeFileSync(join(this.options.stateDir, 'telemetry.seq'), String(this.nextSeq), { mode: 0o600 });
      this.spool.append(batch);
    }
    this.pump();
  }

  /** Sends spooled batches, oldest first, up to the in-flight window. */
  private pump(): void {
    const ws = this.ws;
    if (ws?.readyState !== WebSocket.OPEN) return;
    const window = this.options.window ?? 32;
    for (const seq of this.spool.seqs()) {
      if (this.inflight.size >= window) break;
      if (this.inflight.has(seq)) continue;
      const batch = this.spool.read(seq);
      if (!batch) continue;
      this.inflight.add(seq);
      ws.send(JSON.stringify(batch));
    }
  }

  private connect(): void {
    const { state, log } = this.options;
    const ws = new WebSocket(new URL('/v1/agent/telemetry', state.backendUrl).href, {
      ca: state.caCertPem,
      headers: { authorization: `Bearer ${state.telemetryToken}` },
      perMessageDeflate: false,
      handshakeTimeout: 15_000,
      generateMask: zeroMask,
    });
    this.ws = ws;
    ws.on('open', () => {
      this.backoff.reset();
      this.inflight.clear();
      this.pump();
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
      const { seq } = message.data;
      this.inflight.delete(seq);
      if (message.data.type === 'ack') {
        this.acked++;
        this.spool.remove(seq);
      } else {
        log.warn({ seq, code: message.data.code }, 'telemetry batch refused by the backend');
        this.spool.drop(seq);
      }
      this.pump();
    });
    ws.on('unexpected-response', (_req, res) => {
      log.warn({ status: res.statusCode }, 'backend refused the telemetry upgrade');
      ws.terminate();
    });
    ws.on('error', (err) => log.debug({ err: err.message }, 'telemetry socket error'));
    ws.on('close', () => {
      if (this.ws === ws) this.ws = null;
      this.inflight.clear();
      if (this.stopped) return;
      this.reconnectTimer = setTimeout(() => this.connect(), this.backoff.next());
    });
  }

  /** Batches on disk awaiting an ack. */
  get queued(): number {
    return this.spool.size;
  }

  /** Samples lost to the spool bounds or refused by the backend. */
  get dropped(): number {
    return this.spool.dropped;
  }

  stop(): void {
    this.stopped = true;
    this.sampler.stop();
    this.logs.stop();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.ws?.close(1000);
  }
}

/** Up to `max` lines from `from` whose JSON stays under `maxBytes` (at least one line). */
function takeLogs(logs: LogLine[], from: number, max: number, maxBytes: number): LogLine[] {
  const out: LogLine[] = [];
  let bytes = 0;
  for (let i = from; i < logs.length && out.length < max; i++) {
    const line = logs[i];
    if (!line) break;
    bytes += line.message.length * 3 + line.source.length + 64;
    if (out.length > 0 && bytes > maxBytes) break;
    out.push(line);
  }
  return out;
}
