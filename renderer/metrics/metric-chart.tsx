import { CategoryScale, Chart, Legend, LineController, LineElement, LinearScale, PointElement, Tooltip } from 'chart.js';
import { useEffect, useRef, useState } from 'react';
import { formatValue, metricInfo } from './metric-format.js';
import { useMonitoring } from './monitoring-context.js';
import { onThemeColorsChange, readThemeColors } from '../theme/theme-colors.js';

Chart.register(LineController, LineElement, PointElement, LinearScale, CategoryScale, Tooltip, Legend);

export interface ChartRange {
  label: string;
  spanMs: number;
  /** Bucket width asked from the API; 0 = raw points. */
  step: number;
  live: boolean;
}

const MIN = 60_000;
const HOUR = 60 * MIN;
export const CHART_RANGES: readonly ChartRange[] = [
  { label: 'live', spanMs: 5 * MIN, step: 0, live: true },
  { label: '15 m', spanMs: 15 * MIN, step: 0, live: true },
  { label: '1 h', spanMs: HOUR, step: 10_000, live: true },
  { label: '24 h', spanMs: 24 * HOUR, step: MIN, live: false },
  { label: '7 d', spanMs: 7 * 24 * HOUR, step: 10 * MIN, live: false },
  { label: '30 d', spanMs: 30 * 24 * HOUR, step: HOUR, live: false },
];

const COLORS = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed'];

function timeLabel(ms: number, spanMs: number): string {
  const d = new Date(ms);
  return spanMs > 24 * HOUR ? `${d.getMonth() + 1}/${d.getDate()} ${d.getHours()}:00` : d.toLocaleTimeString();
}

/**
 * One chart of a device's metrics. History comes from the REST API; in live ranges new samples
 * from the console socket are appended to the chart's own datasets and drawn with
 * `chart.update('none')` — never through React state, which would re-render at sample rate.
 */
export function MetricChart({ deviceId, title, names, range }: { deviceId: string; title: string; names: string[]; range: ChartRange }) {
  const { api, feed } = useMonitoring();
  const canvas = useRef<HTMLCanvasElement>(null);
  const [error, setError] = useState<string | null>(null);
  const namesKey = names.join(',');

  useEffect(() => {
    const element = canvas.current;
    if (element === null) return;
    const wanted = namesKey.split(',');
    const colors = readThemeColors();
    // One unit per chart (its series are grouped so); the axis and the tooltip format with it.
    const unit = metricInfo(wanted[0] ?? '').unit;
    const chart = new Chart(element, {
      type: 'line',
      data: { datasets: wanted.map((name, i) => ({ label: metricInfo(name).label, data: [] as Array<{ x: number; y: number }>, borderColor: COLORS[i % COLORS.length], pointRadius: 0, borderWidth: 1.5, tension: 0 })) },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        parsing: false,
        normalized: true,
        scales: {
          x: { type: 'linear', grid: { color: colors.grid }, ticks: { color: colors.muted, maxTicksLimit: 6, callback: (v) => timeLabel(Number(v), range.spanMs) } },
          y: { beginAtZero: true, grid: { color: colors.grid }, ticks: { color: colors.muted, callback: (v) => formatValue(Number(v), unit) } },
        },
        plugins: { legend: { display: false, labels: { color: colors.text } }, tooltip: {
            mode: 'nearest',
            intersect: false,
            callbacks: {
              title: (items) => (items[0] ? new Date(items[0].parsed.x ?? 0).toLocaleString() : ''),
              // The human label with the agent's metric name, for alert rules and the API.
              label: (item) => `${item.dataset.label ?? ''}: ${formatValue(item.parsed.y ?? 0, unit)} (${wanted[item.datasetIndex] ?? ''})`,
            },
          },
        },
      },
    });
    const dataOf = (name: string) => chart.data.datasets[wanted.indexOf(name)]?.data as Array<{ x: number; y: number }> | undefined;
    const count = () => chart.data.datasets.reduce((n, d) => n + d.data.length, 0);
    const redraw = () => {
      element.dataset.points = String(count());
      chart.update('none');
    };
    let cancelled = false;
    const to = Date.now();
    api.query(deviceId, wanted, to - range.spanMs, to + 1_000, range.step).then(
      (result) => {
        if (cancelled) return;
        for (const series of result.series) {
          const data = dataOf(series.name);
          if (data) data.unshift(...series.points.map(([x, y]) => ({ x, y })));
        }
        setError(null);
        redraw();
      },
      (err: unknown) => !cancelled && setError(err instanceof Error ? err.message : String(err)),
    );
    const unsubscribe = range.live
      ? feed.subscribe((message) => {
          if (message.type !== 'metrics.samples' || message.deviceId !== deviceId) return;
          let added = false;
          for (const sample of message.samples) {
            const data = dataOf(sample.name);
            if (!data) continue;
            data.push({ x: sample.ts, y: sample.value });
            added = true;
          }
          if (!added) return;
          const oldest = Date.now() - range.spanMs;
          for (const d of chart.data.datasets) {
            const data = d.data as Array<{ x: number; y: number }>;
            while (data.length > 0 && (data[0]?.x ?? 0) < oldest) data.shift();
          }
          redraw();
        })
      : () => undefined;
    // Canvas colors do not follow CSS: repaint the axes when the theme changes.
    const stopTheme = onThemeColorsChange((next) => {
      for (const scale of [chart.options.scales?.x, chart.options.scales?.y]) {
        if (scale === undefined) continue;
        if (scale.grid) scale.grid.color = next.grid;
        if (scale.ticks) scale.ticks.color = next.muted;
      }
      const legend = chart.options.plugins?.legend;
      if (legend?.labels) legend.labels.color = next.text;
      chart.update('none');
    });
    return () => {
      stopTheme();
      cancelled = true;
      unsubscribe();
      chart.destroy();
    };
  }, [api, feed, deviceId, namesKey, range]);

  return (
    <figure className="metric-chart" data-testid="metric-chart" data-metric={namesKey}>
      <figcaption title={names.join(', ')}>
        {title}
        <span className="visually-hidden"> ({names.map((n) => metricInfo(n).label).join(', ')})</span>
      </figcaption>
      <ul className="chart-legend" data-testid="chart-legend">
        {names.map((n, i) => (
          <li key={n} title={n} data-metric={n}>
            <span className="chart-swatch" style={{ background: COLORS[i % COLORS.length] }} aria-hidden="true" />
            {metricInfo(n).label}
          </li>
        ))}
      </ul>
      <div className="metric-chart-canvas">
        <canvas ref={canvas} data-testid="metric-chart-canvas" data-points="0" />
      </div>
      {error !== null && <p className="banner" role="alert">{error}</p>}
    </figure>
  );
}
