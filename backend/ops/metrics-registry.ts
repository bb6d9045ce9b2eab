/**
 * A minimal Prometheus registry: counters that services increment and gauges read by callback
 * at scrape time, rendered in the text exposition format 0.0.4.
 *
 * Written here rather than with prom-client because prom-client is not a dependency of this
 * package (no new packages may be installed in this tree); the format is small and fixed
 * (https://prometheus.io/docs/instrumenting/exposition_formats/), and the test beside this file
 * parses what we render. Swapping in prom-client later only changes this file.
 */

export type Labels = Readonly<Record<string, string>>;

/** What services receive: something to count with. */
export interface Counter {
  inc(labels?: Labels, by?: number): void;
}

export interface Sample {
  labels?: Labels;
  value: number;
}

type Kind = 'counter' | 'gauge' | 'summary';

interface Family {
  name: string;
  help: string;
  kind: Kind;
  collect(): readonly Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export class MetricsRegistry {
  private readonly families = new Map<string, Family>();

  /** A counter kept here; `labelNames` fixes which labels it may carry. */
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    const values = new Map<string, { labels: Labels; value: number }>();
    if (labelNames.length === 0) values.set('', { labels: {}, value: 0 });
    this.add({ name, help, kind: 'counter', collect: () => [...values.values()] });
    return {
      inc: (labels = {}, by = 1) => {
        if (!(by >= 0)) throw new RangeError(`${name}: a counter only goes up`);
        const keys = Object.keys(labels);
        if (keys.length !== labelNames.length || keys.some((k) => !labelNames.includes(k))) throw new RangeError(`${name}: labels must be ${labelNames.join(', ') || 'none'}`);
        const key = labelNames.map((k) => labels[k]).join('\u0000');
        const entry = values.get(key);
        if (entry) entry.value += by;
        else values.set(key, { labels: { ...labels }, value: by });
      },
    };
  }

  /** A value owned elsewhere (a count of sockets, a total kept by a service), read at scrape time. */
  gauge(name: string, help: string, collect: () => number | readonly Sample[]): void {
    this.add({ name, help, kind: 'gauge', collect: () => asSamples(collect()) });
  }

  /** A monotonic total owned elsewhere (e.g. a service's own stats), read at scrape time. */
  counterFrom(name: string, help: string, collect: () => number | readonly Sample[]): void {
    this.add({ name, help, kind: 'counter', collect: () => asSamples(collect()) });
  }

  /** Quantiles read at scrape time (labels carry `quantile`). */
  summary(name: string, help: string, collect: () => readonly Sample[]): void {
    this.add({ name, help, kind: 'summary', collect });
  }

  /** The text exposition of every family; a failing collector is left out rather than failing the scrape. */
  render(): string {
    const out: string[] = [];
    for (const family of this.families.values()) {
      let samples: readonly Sample[];
      try {
        samples = family.collect();
      } catch {
        continue;
      }
      out.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.kind}`);
      for (const sample of samples) out.push(`${family.name}${renderLabels(sample.labels)} ${renderValue(sample.value)}`);
    }
    return `${out.join('\n')}\n`;
  }

  private add(family: Family): void {
    if (!NAME.test(family.name)) throw new RangeError(`bad metric name ${family.name}`);
    if (this.families.has(family.name)) throw new RangeError(`metric ${family.name} registered twice`);
    this.families.set(family.name, family);
  }
}

/** The content type Prometheus expects for the text format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

function asSamples(value: number | readonly Sample[]): readonly Sample[] {
  return typeof value === 'number' ? [{ value }] : value;
}

function renderLabels(labels: Labels | undefined): string {
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) return '';
  return `{${entries
    .map(([k, v]) => {
      if (!LABEL.test(k)) throw new RangeError(`bad label name ${k}`);
      return `${k}="${v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`;
    })
    .join(',')}}`;
}

function renderValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}
