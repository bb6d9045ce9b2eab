import { useCallback, useEffect, useState, type FormEvent } from 'react';
import type { AlertEvent, AlertRule } from '../../protocol/index.js';
import { useMonitoring } from '../metrics/monitoring-context.js';

/** Alert rules (create, delete) and the firing/resolved events, new ones arriving live. */
export function AlertsView() {
  const { api, feed } = useMonitoring();
  const [rules, setRules] = useState<AlertRule[]>([]);
  const [events, setEvents] = useState<AlertEvent[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [form, setForm] = useState({ name: '', kind: 'metric', metric: 'cpu.total', comparison: '>', threshold: '90', forSeconds: '60' });

  const reload = useCallback(() => {
    api.rules().then(setRules, (err: unknown) => setError(String(err)));
    api.events().then(setEvents, (err: unknown) => setError(String(err)));
  }, [api]);
  useEffect(reload, [reload]);
  // Events are rare (a few per hour), so they may go through React state.
  useEffect(() => feed.subscribe((m) => m.type === 'alert.event' && setEvents((list) => [m.event, ...list].slice(0, 500))), [feed]);

  const create = (event: FormEvent) => {
    event.preventDefault();
    const condition =
      form.kind === 'offline'
        ? ({ kind: 'offline' } as const)
        : ({ kind: 'metric', metric: form.metric, comparison: form.comparison as '>' | '>=' | '<' | '<=', threshold: Number(form.threshold) } as const);
    api.createRule({ name: form.name, condition, forMs: Number(form.forSeconds) * 1000, scope: {}, enabled: true }).then(reload, (err: unknown) => setError(err instanceof Error ? err.message : String(err)));
  };
  const set = (key: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [key]: e.target.value });

  return (
    <section className="alerts" data-testid="alerts-view">
      <h2>Alerts</h2>
      {error !== null && <p className="banner" role="alert">{error}</p>}
      <form onSubmit={create} className="alert-form">
        <input aria-label="Rule name" data-testid="alert-rule-name" value={form.name} onChange={set('name')} placeholder="Name" required />
        <select aria-label="Condition" value={form.kind} onChange={set('kind')}>
          <option value="metric">metric</option>
          <option value="offline">offline</option>
        </select>
        {form.kind === 'metric' && (
          <>
            <input aria-label="Metric" value={form.metric} onChange={set('metric')} />
            <select aria-label="Comparison" value={form.comparison} onChange={set('comparison')}>
              {['>', '>=', '<', '<='].map((c) => (
                <option key={c}>{c}</option>
              ))}
            </select>
            <input aria-label="Threshold" type="number" value={form.threshold} onChange={set('threshold')} />
          </>
        )}
        <input aria-label="For seconds" type="number" min="0" value={form.forSeconds} onChange={set('forSeconds')} />
        <button type="submit" data-testid="alert-rule-create">
          Add rule
        </button>
      </form>
      <table className="fleet-table" data-testid="alert-rules">
        <thead>
          <tr>
            <th>Rule</th>
            <th>Condition</th>
            <th>For</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {rules.map((r) => (
            <tr key={r.id} data-testid="alert-rule">
              <td>{r.name}</td>
              <td>{r.condition.kind === 'offline' ? 'device offline' : `${r.condition.metric} ${r.condition.comparison} ${r.condition.threshold}`}</td>
              <td>{Math.round(r.forMs / 1000)} s</td>
              <td>
                <button type="button" onClick={() => void api.deleteRule(r.id).then(reload)}>
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Events</h3>
      <ol className="alert-events" data-testid="alert-events">
        {events.map((e) => (
          <li key={e.id} data-testid="alert-event" data-state={e.state}>
            {new Date(e.ts).toLocaleString()} <strong>{e.state}</strong> {e.ruleName} on {e.deviceId}
            {e.value !== null && ` (${e.value})`}
          </li>
        ))}
      </ol>
    </section>
  );
}
