import { describe, expect, it } from 'vitest';
import { MetricsRegistry } from './metrics-registry.js';

describe('MetricsRegistry', () => {
  it('renders counters, gauges and summaries in the text format with HELP and TYPE first', () => {
    const registry = new MetricsRegistry();
    const frames = registry.counter('t_frames_total', 'Frames', ['direction']);
    const plain = registry.counter('t_plain_total', 'Plain');
    registry.gauge('t_agents', 'Agents', () => 3);
    registry.summary('t_delay_seconds', 'Delay', () => [{ labels: { quantile: '0.5' }, value: 0.25 }]);
    frames.inc({ direction: 'in' });
    frames.inc({ direction: 'in' }, 2);
    frames.inc({ direction: 'out' });
    expect(registry.render()).toBe(
      [
        '# HELP t_frames_total Frames', '# TYPE t_frames_total counter', 't_frames_total{direction="in"} 3', 't_frames_total{direction="out"} 1',
        '# HELP t_plain_total Plain', '# TYPE t_plain_total counter', 't_plain_total 0',
        '# HELP t_agents Agents', '# TYPE t_agents gauge', 't_agents 3',
        '# HELP t_delay_seconds Delay', '# TYPE t_delay_seconds summary', 't_delay_seconds{quantile="0.5"} 0.25',
      ].join('\n') + '\n',
    );
    plain.inc();
    expect(registry.render()).toContain('t_plain_total 1\n');
  });

  it('escapes label values and help text', () => {
    const registry = new MetricsRegistry();
    registry.gauge('t_g', 'line one\nback\\slash', () => [{ labels: { path: 'a"b\\c\nd' }, value: 1 }]);
    expect(registry.render()).toBe('# HELP t_g line one\\nback\\\\slash\n# TYPE t_g gauge\nt_g{path="a\\"b\\\\c\\nd"} 1\n');
  });

  it('refuses bad names, duplicate families, wrong labels and decrements', () => {
    const registry = new MetricsRegistry();
    expect(() => registry.gauge('bad-name', 'x', () => 1)).toThrow(RangeError);
    const c = registry.counter('t_c_total', 'c', ['kind']);
    expect(() => registry.counter('t_c_total', 'again')).toThrow(/twice/);
    expect(() => c.inc({ other: 'x' })).toThrow(/labels/);
    expect(() => c.inc({ kind: 'a' }, -1)).toThrow(/only goes up/);
  });

  it('leaves out a family whose collector throws instead of failing the scrape', () => {
    const registry = new MetricsRegistry();
    registry.gauge('t_broken', 'b', () => {
      throw new Error('boom');
    });
    registry.gauge('t_ok', 'ok', () => 1);
    expect(registry.render()).toBe('# HELP t_ok ok\n# TYPE t_ok gauge\nt_ok 1\n');
  });
});
