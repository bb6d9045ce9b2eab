import { monitorEventLoopDelay } from 'node:perf_hooks';
import { MetricsRegistry, type Counter } from './metrics-registry.js';

/** The counters services increment; each service receives only the ones it owns. */
export interface BackendCounters {
  /** Sealed control frames, by direction (`in` from agents, `out` to them). */
  controlFrames: Counter;
  /** Control channel handshakes, by result (`accepted`, `refused`). */
  controlHandshakes: Counter;
  /** Telemetry batches answered, by result (`acked`, `nacked`, `failed`). */
  telemetryBatches: Counter;
}

/** What the backend's composition root lends the registry to read at scrape time. */
export interface BackendGaugeSources {
  connectedAgents(): number;
  telemetrySockets(): number;
  ingest(): { batches: number; samples: number; duplicates: number; queued: number };
}

export interface BackendMetrics {
  registry: MetricsRegistry;
  counters: BackendCounters;
  /** The shell feature sets this to report its open sessions (0 until it does). */
  setOpenShells(count: () => number): void;
  close(): void;
}

const RATE_WINDOW_MS = 10_000;
const RATE_TICK_MS = 1_000;

/** Builds the backend's /metrics: counters, gauges read from services, event-loop delay and process facts. */
export function createBackendMetrics(sources: BackendGaugeSources): BackendMetrics {
  const registry = new MetricsRegistry();
  const counters: BackendCounters = {
    controlFrames: registry.counter('tether_control_frames_total', 'Sealed control channel frames, by direction', ['direction']),
    controlHandshakes: registry.counter('tether_control_handshakes_total', 'Control channel handshakes, by result', ['result']),
    telemetryBatches: registry.counter('tether_telemetry_batches_total', 'Telemetry batches answered, by result (acked, nacked, failed)', ['result']),
  };
  let openShells: () => number = () => 0;

  registry.gauge('tether_agents_connected', 'Devices with a live control channel', () => sources.connectedAgents());
  registry.gauge('tether_telemetry_sockets', 'Open telemetry channels', () => sources.telemetrySockets());
  registry.gauge('tether_shell_sessions_open', 'Open remote shell sessions', () => openShells());
  registry.counterFrom('tether_telemetry_samples_stored_total', 'Metric samples and log lines stored', () => sources.ingest().samples);
  registry.counterFrom('tether_telemetry_batches_stored_total', 'Telemetry batches stored (resends excluded)', () => sources.ingest().batches);
  registry.counterFrom('tether_telemetry_batches_duplicate_total', 'Telemetry batches that were resends of stored ones', () => sources.ingest().duplicates);
  registry.gauge('tether_ingest_queue_batches', 'Telemetry batches waiting to be written', () => sources.ingest().queued);

  // Prometheus derives rates from the counter above; this gauge answers "how fast right now"
  // for a human reading /metrics or a dashboard without PromQL.
  const history: Array<{ at: number; samples: number }> = [];
  const rateTimer = setInterval(() => {
    history.push({ at: Date.now(), samples: sources.ingest().samples });
    while (history.length > RATE_WINDOW_MS / RATE_TICK_MS + 1) history.shift();
  }, RATE_TICK_MS);
  rateTimer.unref();
  registry.gauge('tether_ingest_samples_per_second', `Samples stored per second over the last ${RATE_WINDOW_MS / 1000} s`, () => {
    const first = history[0];
    const now = { at: Date.now(), samples: sources.ingest().samples };
    if (!first || now.at - first.at < RATE_TICK_MS / 2) return 0;
    return Math.round(((now.samples - first.samples) / ((now.at - first.at) / 1000)) * 100) / 100;
  });

  // Same names as prom-client's default metrics, so existing dashboards apply.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const seconds = (ns: number) => (Number.isFinite(ns) ? ns / 1e9 : 0);
  registry.gauge('nodejs_eventloop_lag_p50_seconds', 'Event loop delay, median since the last scrape', () => seconds(loopDelay.percentile(50)));
  registry.gauge('nodejs_eventloop_lag_p99_seconds', 'Event loop delay, 99th percentile since the last scrape', () => seconds(loopDelay.percentile(99)));
  registry.gauge('nodejs_eventloop_lag_max_seconds', 'Event loop delay, maximum since the last scrape', () => {
    const max = seconds(loopDelay.max);
    // The window restarts at each scrape so a spike shows once instead of for the process lifetime.
    loopDelay.reset();
    return max;
  });
  const startSeconds = Math.round(Date.now() / 1000 - process.uptime());
  registry.gauge('process_start_time_seconds', 'Start time of the process since the Unix epoch', () => startSeconds);
  registry.gauge('process_resident_memory_bytes', 'Resident memory size', () => process.memoryUsage.rss());
  registry.gauge('nodejs_heap_size_total_bytes', 'V8 heap reserved', () => process.memoryUsage().heapTotal);
  registry.gauge('nodejs_heap_size_used_bytes', 'V8 heap in use', () => process.memoryUsage().heapUsed);
  registry.gauge('nodejs_external_memory_bytes', 'Memory of C++ objects bound to JavaScript', () => process.memoryUsage().external);
  registry.counterFrom('process_cpu_seconds_total', 'User and system CPU time spent', () => {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1e6;
  });

  return {
    registry,
    counters,
    setOpenShells: (count) => {
      openShells = count;
    },
    close: () => {
      clearInterval(rateTimer);
      loopDelay.disable();
    },
  };
}
