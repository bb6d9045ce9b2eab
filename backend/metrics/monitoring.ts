import type { Logger } from 'pino';
import type { Device } from '../../protocol/index.js';
import { AlertService } from '../alerts/alert-service.js';
import type { AuditLog } from '../audit/audit-log.js';
import { LogSearch } from '../logs/log-search.js';
import type { MonitoringStores } from '../store/monitoring-stores.js';
import type { StoreHealth } from '../store/store-health.js';
import { IngestQueue, type IngestQueueOptions } from '../telemetry/ingest-queue.js';
import { LatestValues } from './latest-values.js';
import type { MetricEngine } from './metric-engine.js';
import { MetricsQueryService } from './metrics-query.js';
import { MonitoringLive } from './monitoring-live.js';
import { DEFAULT_RETENTION, RetentionJob, type RetentionPolicy } from './retention.js';

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
  retention: RetentionJob;
  /** The metric engine the jobs run on (rollups, compaction, retention). */
  engine: MetricEngine;
  /** Stops the jobs, writes what the ingest queue holds and waits for job slices in flight. */
  close(): Promise<void>;
}

/** Builds the monitoring services on the metric engine and the monitoring stores, and starts their jobs. */
export async function startMonitoring(deps: {
  engine: MetricEngine; stores: MonitoringStores; audit: AuditLog; devices: () => readonly Device[]; log: Logger; config?: MonitoringConfig; health?: StoreHealth;
  /**
   * Whether this node does the cluster's once-only work (rollups, retention, storing alert
   * transitions); always on a single node. Compaction runs on every node: see docs/cluster.md.
   */
  leads?: () => boolean;
}): Promise<Monitoring> {
  const config = deps.config ?? {};
  const policy: RetentionPolicy = { ...DEFAULT_RETENTION, ...config.retention };
  const { engine } = deps;
  const ingest = new IngestQueue(engine, deps.log, { maxConcurrentFlushes: engine.concurrentFlushes, ...config.ingest, health: deps.health });
  const latest = new LatestValues();
  await latest.load(engine, Date.now() - 10 * 60_000);
  const live = new MonitoringLive(latest);
  const unsubscribe = ingest.onStored((stored) => live.stored(stored));
  const leads = deps.leads ?? (() => true);
  const alerts = new AlertService({
    store: deps.stores.alerts, audit: deps.audit, latest, devices: deps.devices, onEvent: (event) => live.alert(event),
    onError: (err) => deps.log.error({ err }, 'alert evaluation failed'), leads,
  });
  const retention = new RetentionJob(engine, policy);

  // The jobs work in slices of a few ms and yield between them, so the loop stays responsive. A
  // job's next run waits until its previous one (all of its slices) is done.
  let stopped = false;
  const inFlight = new Set<Promise<void>>();
  const job = (work: () => Promise<boolean>) => {
    let active = false;
    const slice = (): void => {
      if (stopped) {
        active = false;
        return;
      }
      const run: Promise<void> = work().then(
        (more) => {
          if (more) setImmediate(slice);
          else active = false;
        },
        (err: unknown) => {
          active = false;
          deps.log.error({ err }, 'monitoring job failed');
        },
      ).finally(() => inFlight.delete(run));
      inFlight.add(run);
    };
    return () => {
      if (active || stopped) return;
      active = true;
      slice();
    };
  };
  const runRollups = job(async () => leads() && (await engine.rollup(Date.now())).more);
  const runCompaction = job(async () => (await engine.compact(Date.now())).more);
  const runRetention = job(async () => leads() && (await retention.run(Date.now())).more);
  const rollupTimer = setInterval(runRollups, config.rollupIntervalMs ?? 15_000);
  const compactTimer = setInterval(runCompaction, config.compactIntervalMs ?? 60_000);
  const retentionTimer = setInterval(runRetention, config.retentionIntervalMs ?? 3_600_000);
  rollupTimer.unref();
  compactTimer.unref();
  retentionTimer.unref();
  setImmediate(runRetention);
  alerts.start(config.alertIntervalMs);

  return {
    ingest, latest, live, metrics: new MetricsQueryService(engine, policy), logs: new LogSearch(deps.stores.logs), alerts, retention, engine,
    close: async () => {
      stopped = true;
      clearInterval(rollupTimer);
      clearInterval(compactTimer);
      clearInterval(retentionTimer);
      await alerts.stop();
      await ingest.close();
      while (inFlight.size > 0) await Promise.all(inFlight);
      unsubscribe();
      live.close();
    },
  };
}
