import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The counters services increment; each service receives only the ones it owns. */
export interface BackendCounters {
  /** Sealed control frames, by direction (`in` from agents, `out` to them). */
  controlFrames: Counter<'direction'>;
  /** Control channel handshakes, by result (`accepted`, `refused`). */
  controlHandshakes: Counter<'result'>;
  /** Telemetry batches answered, by result (`acked`, `nacked`, `failed`). */
  telemetryBatches: Counter<'result'>;
  /** Stream frames from devices that named no open stream of their own link. */
  streamFramesDropped: Counter;
}

/** What the backend's composition root lends the registry to read at scrape time. */
export interface BackendGaugeSources {
  connectedAgents(): number;
  telemetrySockets(): number;
  openShells(): number;
  /** File uploads and downloads in progress (optional: tests build the registry without them). */
  openFileTransfers?(): number;
  /** Open forwarded connections (TCP forwards and relay connections); optional for callers that have none. */
  openForwards?(): number;
  ingest(): { batches: number; samples: number; duplicates: number; queued: number };
}

/** One answered HTTP request, as the latency histogram labels it. */
export interface HttpObservation {
  method: string;
  /** The route's template (`/api/v1/devices/:id`), never the raw URL, so label values stay few. */
  route: string;
  statusCode: number;
  seconds: number;
}

export interface BackendMetrics {
  /** This backend's own registry (not prom-client's global one), served at /metrics. */
  registry: Registry;
  counters: BackendCounters;
  observeHttp(observation: HttpObservation): void;
  close(): void;
}

const RATE_WINDOW_MS = 10_000;
const RATE_TICK_MS = 1_000;
/** Seconds; from a cached read to a slow export or a device round trip. */
const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Builds the backend's /metrics with prom-client: the counters services move, gauges read from
 * services at scrape time, HTTP latency, and prom-client's default process and Node.js metrics
 * (`process_*`, `nodejs_eventloop_lag_*`, heap, GC).
 */
export function createBackendMetrics(sources: BackendGaugeSources): BackendMetrics {
  const registry = new Registry();
  const registers = [registry];
  const counters: BackendCounters = {
    controlFrames: new Counter({ name: 'tether_control_frames_total', help: 'Sealed control channel frames, by direction', labelNames: ['direction'], registers }),
    controlHandshakes: new Counter({ name: 'tether_control_handshakes_total', help: 'Control channel handshakes, by result', labelNames: ['result'], registers }),
    telemetryBatches: new Counter({ name: 'tether_telemetry_batches_total', help: 'Telemetry batches answered, by result (acked, nacked, failed)', labelNames: ['result'], registers }),
    streamFramesDropped: new Counter({ name: 'tether_stream_frames_dropped_total', help: 'Stream frames from devices that named no open stream of their link (late output, or a confused or hostile device)', registers }),
  };
  const gaugeOf = (name: string, help: string, read: () => number) =>
    new Gauge({ name, help, registers, collect() {
      this.set(read());
    } });
  // Totals kept by a service: the counter follows them by their increase since the last scrape.
  const counterOf = (name: string, help: string, read: () => number) => {
    let seen = 0;
    return new Counter({ name, help, registers, collect() {
      const now = read();
      if (now > seen) this.inc(now - seen);
      seen = Math.max(seen, now);
    } });
  };

  gaugeOf('tether_agents_connected', 'Devices with a live control channel', () => sources.connectedAgents());
  gaugeOf('tether_telemetry_sockets', 'Open telemetry channels', () => sources.telemetrySockets());
  gaugeOf('tether_shell_sessions_open', 'Open remote shell sessions', () => sources.openShells());
  gaugeOf('tether_file_transfers_open', 'File uploads and downloads in progress', () => sources.openFileTransfers?.() ?? 0);
  gaugeOf('tether_forwards_open', 'Open forwarded connections (TCP forwards and web relay)', () => sources.openForwards?.() ?? 0);
  counterOf('tether_telemetry_samples_stored_total', 'Metric samples and log lines stored', () => sources.ingest().samples);
  counterOf('tether_telemetry_batches_stored_total', 'Telemetry batches stored (resends excluded)', () => sources.ingest().batches);
  counterOf('tether_telemetry_batches_duplicate_total', 'Telemetry batches that were resends of stored ones', () => sources.ingest().duplicates);
  gaugeOf('tether_ingest_queue_batches', 'Telemetry batches waiting to be written', () => sources.ingest().queued);

  // Prometheus derives rates from the counter above; this gauge answers "how fast right now"
  // for a human reading /metrics or a dashboard without PromQL.
  const history: Array<{ at: number; samples: number }> = [];
  const rateTimer = setInterval(() => {
    history.push({ at: Date.now(), samples: sources.ingest().samples });
    while (history.length > RATE_WINDOW_MS / RATE_TICK_MS + 1) history.shift();
  }, RATE_TICK_MS);
  rateTimer.unref();
  gaugeOf('tether_ingest_samples_per_second', `Samples stored per second over the last ${RATE_WINDOW_MS / 1000} s`, () => {
    const first = history[0];
    const now = { at: Date.now(), samples: sources.ingest().samples };
    if (!first || now.at - first.at < RATE_TICK_MS / 2) return 0;
    return Math.round(((now.samples - first.samples) / ((now.at - first.at) / 1000)) * 100) / 100;
  });

  const http = new Histogram({
    name: 'tether_http_request_duration_seconds',
    help: 'HTTP request latency, by method, route template and status class (2xx, 4xx, ...)',
    labelNames: ['method', 'route', 'status_class'],
    buckets: HTTP_BUCKETS,
    registers,
  });

  collectDefaultMetrics({ register: registry });

  return {
    registry,
    counters,
    observeHttp: ({ method, route, statusCode, seconds }) => {
      http.observe({ method, route, status_class: `${Math.floor(statusCode / 100)}xx` }, seconds);
    },
    close: () => {
      clearInterval(rateTimer);
    },
  };
}
