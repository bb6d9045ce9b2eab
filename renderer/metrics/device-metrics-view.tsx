import { escapeControlCharacters as visible } from '../../protocol/index.js';
import { useEffect, useState } from 'react';
import { DeviceLinks } from '../fleet/device-links.js';
import { useDevice } from '../fleet/fleet-hooks.js';
import { CHART_RANGES, MetricChart, type ChartRange } from './metric-chart.js';
import { useMonitoring } from './monitoring-context.js';

/** Each chart's series share a unit (metric-format.ts), which its axis and tooltip show. */
const CHARTS: Array<{ title: string; names: string[]; optional?: string }> = [
  { title: 'CPU', names: ['cpu.total'] },
  { title: 'Memory and swap', names: ['mem.used_pct', 'swap.used_pct'] },
  { title: 'Load', names: ['load.1', 'load.5', 'load.15'] },
  { title: 'Network', names: ['net.rx_bps', 'net.tx_bps'] },
  { title: 'Disk (fullest mount)', names: ['disk.used_pct'] },
  { title: 'Temperature', names: ['temp.cpu'], optional: 'temp.cpu' },
  { title: 'Battery', names: ['battery.level'], optional: 'battery.level' },
  { title: 'Samples dropped by the agent spool', names: ['agent.spool.dropped'] },
];

/** A device's metrics: one chart per group, a range picker, live while the range is short. */
export function DeviceMetricsView({ deviceId }: { deviceId: string }) {
  const device = useDevice(deviceId);
  const { api, live } = useMonitoring();
  const [range, setRange] = useState<ChartRange>(CHART_RANGES[0] ?? { label: 'live', spanMs: 300_000, step: 0, live: true });
  const [names, setNames] = useState<string[] | null>(null);

  useEffect(() => live.device(deviceId), [live, deviceId]);
  useEffect(() => {
    let cancelled = false;
    api.names(deviceId).then((n) => !cancelled && setNames(n), () => !cancelled && setNames([]));
    return () => {
      cancelled = true;
    };
  }, [api, deviceId]);

  return (
    <section className="device-metrics" data-testid="device-metrics" data-device-id={deviceId}>
      <div className="fleet-summary">
        <h2 className="crumbs">
          <a href="#/">Fleet</a> ›{' '}
          <span className="ellipsis" title={visible(device?.name ?? deviceId)} data-testid="metrics-device-name">
            {visible(device?.name ?? deviceId)}
          </span>
        </h2>
        <DeviceLinks deviceId={deviceId} current="metrics" />
        <div className="range-picker" role="group" aria-label="Range">
          {CHART_RANGES.map((r) => (
            <button key={r.label} type="button" data-testid={`range-${r.label.replace(' ', '')}`} aria-pressed={r === range} onClick={() => setRange(r)}>
              {r.label}
            </button>
          ))}
        </div>
      </div>
      <div className="chart-grid">
        {CHARTS.filter((c) => c.optional === undefined || names === null || names.includes(c.optional)).map((c) => (
          <MetricChart key={c.title} deviceId={deviceId} title={c.title} names={c.names} range={range} />
        ))}
      </div>
      {names !== null && !names.includes('battery.level') && <p className="muted" data-testid="no-battery">No battery reported.</p>}
    </section>
  );
}
