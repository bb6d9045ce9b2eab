import type { Logger } from 'pino';
import type { Device } from '../../protocol/index.js';
import { AlertService } from '../alerts/alert-service.js';
import type { AuditLog } from '../audit/audit-log.js';
import { LogSearch } from '../logs/log-search.js';
import type { MonitoringStores } from '../store/monitoring-stores.js';
import type { Db } from '../store/sqlite/db.js';
import type { StoreHealth } from '../store/store-health.js';
import { IngestQueue, type IngestQueueOptions } from '../telemetry/ingest-queue.js';
import { TelemetryStore } from '../telemetry/telemetry-store.js';
import { LatestValues } from './latest-values.js';
import { MetricStore } from './metric-store.js';
import { MetricsQueryService } from './metrics-query.js';
import { MonitoringLive } from './monitoring-live.js';
import { DEFAULT_RETENTION, RetentionJob, type RetentionPolicy } from './retention.js';
import { RollupJob } from './rollups.js';

/** Monitoring knobs of BackendConfig; ARCHITECTURE §5 defaults apply when unset. */
export interface MonitoringConfig {
  retention?: Partial<RetentionPolicy>;
  ingest?: IngestQueueOptions;
  rollupIntervalMs?: number;
  /** How often closed chunk windows are compacted (default every minute). */
  compactIntervalMs?: number;
  retentionIntervalMs?: number;
  alertIntervalMs?: number;
}

export interface Monitoring {
  ingest: IngestQueue;
  latest: LatestValues;
  live: MonitoringLive;
  metrics: MetricsQueryService;
  logs: LogSearch;
  alerts: AlertService;
  rollups: RollupJob;
  retention: RetentionJob;
  store: MetricStore;
  close(): void;
}

/** Builds the monitoring services on the metrics database and starts their jobs. */
export function startMonitoring(deps: { metricsDb: Db; stores: MonitoringStores; audit: AuditLog; devices: () => readonly Device[]; log: Logger; config?: MonitoringConfig; health?: StoreHealth }): Monitoring {
  const config = deps.config ?? {};
  const policy: RetentionPolicy = { ...DEFAULT_RETENTION, ...config.retention };
  const store = new MetricStore(deps.metricsDb);
  const ingest = new IngestQueue(new TelemetryStore(store), deps.log, { ...config.ingest, health: deps.health });
  const latest = new LatestValues();
  latest.load(store, Date.now() - 10 * 60_000);
  const live = new MonitoringLive(latest);
  const unsubscribe = ingest.onStored((stored) => live.stored(stored));
  const alerts = new AlertService({
    store: deps.stores.alerts, audit: deps.audit, latest, devices: deps.devices, onEvent: (event) => live.alert(event),
    onError: (err) => deps.log.error({ err }, 'alert evaluation failed'),
  });
  const rollups = new RollupJob(store);
  const retention = new RetentionJob(store, policy);

  // The jobs work in slices of a few ms and yield between them, so the loop stays responsive.
  let stopped = false;
  const slice = (job: () => boolean): void => {
    if (stopped) return;
    try {
      if (job()) setImmediate(() => slice(job));
    } catch (err) {
      deps.log.error({ err }, 'monitoring job failed');
    }
  };
  const rollupTimer = setInterval(() => slice(() => rollups.run(Date.now()).more), config.rollupIntervalMs ?? 15_000);
  const compactTimer = setInterval(() => slice(() => store.compact(Date.now()).more), config.compactIntervalMs ?? 60_000);
  const retentionTimer = setInterval(() => slice(() => retention.run(Date.now()).more), config.retentionIntervalMs ?? 3_600_000);
  rollupTimer.unref();
  compactTimer.unref();
  retentionTimer.unref();
  setImmediate(() => slice(() => retention.run(Date.now()).more));
  alerts.start(config.alertIntervalMs);

  return {
    ingest, latest, live, metrics: new MetricsQueryService(store, policy), logs: new LogSearch(deps.stores.logs), alerts, rollups, retention, store,
    close: () => {
      stopped = true;
      clearInterval(rollupTimer);
      clearInterval(compactTimer);
      clearInterval(retentionTimer);
      void alerts.stop();
      ingest.close();
      unsubscribe();
      live.close();
    },
  };
}
