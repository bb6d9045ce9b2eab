/**
 * A telemetry load generator for ops tests: sends numbered batches over a device's real
 * telemetry channel as fast as acks come back (a window of in-flight batches), and records
 * which seqs the backend acknowledged and when. Acked means durably stored (ARCHITECTURE §4).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { TelemetryServerMessage, type TelemetryBatch } from '../protocol/index.js';
import type { Backend } from './harness.js';

export interface TelemetryWriter {
  /** seq → time the ack arrived. */
  readonly acked: Map<number, number>;
  readonly sent: () => number;
  stop(): Promise<void>;
}

export function startTelemetryWriter(backend: Pick<Backend, 'url' | 'caCertPem'>, stateDir: string, options: { window?: number; firstSeq?: number } = {}): TelemetryWriter {
  const token = readFileSync(join(stateDir, 'telemetry.token'), 'utf8').trim();
  const acked = new Map<number, number>();
  const window = options.window ?? 8;
  let seq = options.firstSeq ?? 1;
  let sent = 0;
  let stopped = false;
  let ws: WebSocket | null = null;
  let closed: Promise<void> = Promise.resolve();

  const connect = (): void => {
    if (stopped) return;
    const socket = new WebSocket(new URL('/v1/agent/telemetry', backend.url.replace('https:', 'wss:')).href, { ca: backend.caCertPem, headers: { authorization: `Bearer ${token}` } });
    ws = socket;
    let inFlight = 0;
    const send = (): void => {
      while (!stopped && inFlight < window && socket.readyState === socket.OPEN) {
        const batch: TelemetryBatch = { type: 'batch', seq: seq++, metrics: [{ ts: Date.now(), name: 'ops.load', value: seq }], logs: [] };
        socket.send(JSON.stringify(batch));
        inFlight++;
        sent++;
      }
    };
    socket.on('open', send);
    socket.on('message', (data) => {
      const msg = TelemetryServerMessage.parse(JSON.parse(String(data)));
      if (msg.type === 'ack') acked.set(msg.seq, Date.now());
      inFlight--;
      send();
    });
    socket.on('error', () => undefined);
    closed = new Promise((done) => socket.on('close', () => {
      done();
      // Reconnect (the backend restarted); unacked seqs are simply not counted.
      if (!stopped) setTimeout(connect, 200);
    }));
  };
  connect();

  return {
    acked,
    sent: () => sent,
    stop: async () => {
      stopped = true;
      ws?.close();
      await closed;
    },
  };
}
