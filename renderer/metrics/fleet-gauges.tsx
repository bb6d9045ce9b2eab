import { useEffect, useRef, useState } from 'react';
import type { MonitoringServerMessage } from '../../protocol/index.js';
import { useOptionalMonitoring } from './monitoring-context.js';

/** The fleet table's live columns, in order. */
export const GAUGE_METRICS = [
  { name: 'cpu.total', label: 'CPU', unit: '%' },
  { name: 'mem.used_pct', label: 'Memory', unit: '%' },
  { name: 'disk.used_pct', label: 'Disk', unit: '%' },
  { name: 'battery.level', label: 'Battery', unit: '%' },
] as const;

type LatestMessage = Extract<MonitoringServerMessage, { type: 'metrics.latest' }>;
/** The newest gauge values per device, so a row scrolled into view shows them before the next update. */
export type GaugeValues = Map<string, LatestMessage['devices'][string]>;

/**
 * Subscribes the console to the fleet's latest values while the fleet table is shown, and keeps the
 * newest per device (outside React state: rows read it when they mount).
 */
export function useFleetGauges(): GaugeValues {
  const services = useOptionalMonitoring();
  const live = services?.live;
  const feed = services?.feed;
  const [latest] = useState<GaugeValues>(() => new Map());
  useEffect(() => live?.fleet(GAUGE_METRICS.map((g) => g.name)), [live]);
  useEffect(
    () =>
      feed?.subscribe((message) => {
        if (message.type !== 'metrics.latest') return;
        for (const [id, values] of Object.entries(message.devices)) latest.set(id, { ...latest.get(id), ...values });
      }),
    [feed, latest],
  );
  return latest;
}

/**
 * One row's gauge cells. Values are written into the cells' text directly from the feed, so a
 * fleet of thousands updating every second re-renders nothing.
 */
export function DeviceGauges({ id, latest }: { id: string; latest?: GaugeValues }) {
  const feed = useOptionalMonitoring()?.feed;
  const cells = useRef<Array<HTMLElement | null>>([]);
  useEffect(() => {
    const show = (values: LatestMessage['devices'][string] | undefined): void => {
      if (values === undefined) return;
      GAUGE_METRICS.forEach((g, i) => {
        const cell = cells.current[i];
        const v = values[g.name];
        if (cell && v) cell.textContent = `${v.value.toFixed(0)} ${g.unit}`;
      });
    };
    show(latest?.get(id));
    return feed?.subscribe((message) => {
      if (message.type === 'metrics.latest') show(message.devices[id]);
    });
  }, [feed, id, latest]);
  return (
    <>
      {GAUGE_METRICS.map((g, i) => (
        <div role="cell" key={g.name} className="gauge" data-testid={`device-${g.name.split('.')[0]}`} ref={(el) => void (cells.current[i] = el)}>
          —
        </div>
      ))}
      <div role="cell">
        <a href={`#/metrics/${id}`} data-testid="device-metrics-link">
          metrics
        </a>
      </div>
    </>
  );
}
