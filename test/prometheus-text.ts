/**
 * A strict reader of the Prometheus text exposition format (0.0.4, what prom-client writes) for tests: every line is a
 * HELP/TYPE comment or a sample of a family declared before it, and values are numbers.
 */
export interface PromSample { name: string; labels: Record<string, string>; value: number }
export interface PromFamily { name: string; type: string; help: string; samples: PromSample[] }

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\[\\"n])*)"(,|$)/y;
const TYPES = new Set(['counter', 'gauge', 'summary', 'histogram', 'untyped']);

export function parsePrometheusText(text: string): Map<string, PromFamily> {
  const families = new Map<string, PromFamily>();
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  for (const [i, line] of text.slice(0, -1).split('\n').entries()) {
    const fail = (why: string) => new Error(`line ${i + 1} ${JSON.stringify(line)}: ${why}`);
    if (line.startsWith('# HELP ')) {
      const [, name = '', ...help] = line.split(' ').slice(1);
      if (families.has(name)) throw fail('family declared twice');
      families.set(name, { name, type: 'untyped', help: help.join(' '), samples: [] });
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const [name = '', type = ''] = line.split(' ').slice(2);
      const family = families.get(name);
      if (!family || family.samples.length > 0) throw fail('TYPE must follow HELP and come before samples');
      if (!TYPES.has(type)) throw fail(`unknown type ${type}`);
      family.type = type;
      continue;
    }
    if (line.startsWith('#') || line === '') continue;
    const match = SAMPLE.exec(line);
    if (!match) throw fail('not a sample');
    const [, name = '', , labelText = '', valueText = ''] = match;
    // As Prometheus reads values (Go's ParseFloat): NaN and Inf in any case; prom-client writes `Nan`.
    const special = valueText.toLowerCase();
    const value = special === '+inf' || special === 'inf' ? Infinity : special === '-inf' ? -Infinity : Number(valueText);
    if (Number.isNaN(value) && special !== 'nan') throw fail('value is not a number');
    const labels: Record<string, string> = {};
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < labelText.length) {
      const m = LABEL.exec(labelText);
      if (!m) throw fail('bad labels');
      labels[m[1] ?? ''] = (m[2] ?? '').replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    const family = families.get(name) ?? families.get(name.replace(/_(sum|count|bucket)$/, ''));
    if (!family) throw fail('sample of an undeclared family');
    family.samples.push({ name, labels, value });
  }
  return families;
}

/** The value of one sample (labels must match exactly), or undefined. */
export function sampleValue(families: Map<string, PromFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort());
  return families.get(name)?.samples.find((s) => JSON.stringify(Object.entries(s.labels).sort()) === want)?.value;
}
