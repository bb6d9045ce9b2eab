import { useEffect, useRef } from 'react';
import { useOptionalMonitoring } from './monitoring-context.js';

/** The fleet table's live columns, in order. */
export const GAUGE_METRICS = [
  { name: 'cpu.total', label: 'CPU', unit: '%' },
  { name: 'mem.used_pct', label: 'Memory', unit: '%' },
  { name: 'disk.used_pct', label: 'Disk', unit: '%' },
  { name: 'battery.level', label: 'Battery', unit: '%' },
] as const;

/** Subscribes the console to the fleet's latest values while the fleet table is shown. */
export function useFleetGauges(): void {
  const live = useOptionalMonitoring()?.live;
  useEffect(() => live?.fleet(GAUGE_METRICS.map((g) => g.name)), [live]);
}

/**
 * One row's gauge cells. Values are written into the cells' text directly from the feed, so a
 * fleet of thousands updating every second re-renders nothing.
 */
export function DeviceGauges({ id }: { id: string }) {
  const feed = useOptionalMonitoring()?.feed;
  const cells = useRef<Array<HTMLTableCellElement | null>>([]);
  useEffect(
    () =>
      feed?.subscribe((message) => {
        if (message.type !== 'metrics.latest') return;
        const values = message.devices[id];
        if (values === undefined) return;
        GAUGE_METRICS.forEach((g, i) => {
          const cell = cells.current[i];
          const v = values[g.name];
          if (cell && v) cell.textContent = `${v.value.toFixed(0)} ${g.unit}`;
        });
      }),
    [feed, id],
  );
  return (
    <>
      {GAUGE_METRICS.map((g, i) => (
        <td key={g.name} className="gauge" data-testid={`device-${g.name.split('.')[0]}`} ref={(el) => void (cells.current[i] = el)}>
          —
        </td>
      ))}
      <td>
        <a href={`#/metrics/${id}`} data-testid="device-metrics-link">
          metrics
        </a>
      </td>
    </>
  );
}
