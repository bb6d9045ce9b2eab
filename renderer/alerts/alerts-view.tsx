import { useCallback, useEffect, useState, type FormEvent } from 'react';
import type { AlertEvent, AlertRule } from '../../protocol/index.js';
import { FieldError, fieldProps } from '../api/field-error.js';
import { toUiError, type UiError } from '../api/ui-error.js';
import { useDevice } from '../fleet/fleet-hooks.js';
import { formatMetric, metricInfo } from '../metrics/metric-format.js';
import { useMonitoring } from '../metrics/monitoring-context.js';

/** The metrics a rule is usually about; any other name the agent reports can be typed. */
const COMMON_METRICS = ['cpu.total', 'mem.used_pct', 'swap.used_pct', 'disk.used_pct', 'temp.cpu', 'battery.level', 'load.1', 'net.rx_bps', 'net.tx_bps'];

function describeCondition(rule: AlertRule): string {
  const c = rule.condition;
  return c.kind === 'offline' ? 'device offline' : `${metricInfo(c.metric).label} ${c.comparison} ${formatMetric(c.metric, c.threshold)}`;
}

/** Alert rules (create, delete) and the firing/resolved events, new ones arriving live. */
export function AlertsView() {
  const { api, feed } = useMonitoring();
  const [rules, setRules] = useState<AlertRule[]>([]);
  const [events, setEvents] = useState<AlertEvent[]>([]);
  const [error, setError] = useState<UiError | null>(null);
  const [form, setForm] = useState({ name: '', kind: 'metric', metric: 'cpu.total', comparison: '>', threshold: '90', forSeconds: '60' });

  const reload = useCallback(() => {
    api.rules().then(setRules, (err: unknown) => setError(toUiError(err)));
    api.events().then(setEvents, (err: unknown) => setError(toUiError(err)));
  }, [api]);
  useEffect(reload, [reload]);
  // Events are rare (a few per hour), so they may go through React state.
  useEffect(() => feed.subscribe((m) => m.type === 'alert.event' && setEvents((list) => [m.event, ...list].slice(0, 500))), [feed]);

  const create = (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    const condition =
      form.kind === 'offline'
        ? ({ kind: 'offline' } as const)
        : ({ kind: 'metric', metric: form.metric, comparison: form.comparison as '>' | '>=' | '<' | '<=', threshold: Number(form.threshold) } as const);
    api.createRule({ name: form.name, condition, forMs: Number(form.forSeconds) * 1000, scope: {}, enabled: true }).then(reload, (err: unknown) => setError(toUiError(err)));
  };
  const set = (key: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [key]: e.target.value });
  const field = (pointer: string) => fieldProps(error, 'alert-rule', pointer);
  const ruleOf = (id: number) => rules.find((r) => r.id === id);

  return (
    <section className="alerts" data-testid="alerts-view">
      <h2>Alerts</h2>
      {error !== null && error.field === undefined && (
        <p className="banner" role="alert" data-testid="alerts-error" data-code={error.code}>
          {error.message}
        </p>
      )}
      <form onSubmit={create} className="alert-form" aria-label="New alert rule">
        <label>
          Name
          <input data-testid="alert-rule-name" value={form.name} onChange={set('name')} placeholder="CPU hot" required {...field('/name')} />
          <FieldError error={error} form="alert-rule" field="/name" />
        </label>
        <label>
          When
          <select data-testid="alert-rule-kind" value={form.kind} onChange={set('kind')}>
            <option value="metric">a metric crosses a threshold</option>
            <option value="offline">a device is offline</option>
          </select>
        </label>
        {form.kind === 'metric' && (
          <>
            <label>
              Metric
              <input data-testid="alert-rule-metric" list="alert-metrics" value={form.metric} onChange={set('metric')} {...field('/condition/metric')} />
              <datalist id="alert-metrics">
                {COMMON_METRICS.map((m) => (
                  <option key={m} value={m}>
                    {metricInfo(m).label}
                  </option>
                ))}
              </datalist>
              <FieldError error={error} form="alert-rule" field="/condition/metric" />
            </label>
            <label>
              Is
              <select data-testid="alert-rule-comparison" value={form.comparison} onChange={set('comparison')}>
                {['>', '>=', '<', '<='].map((c) => (
                  <option key={c}>{c}</option>
                ))}
              </select>
            </label>
            <label>
              Threshold
              <input data-testid="alert-rule-threshold" type="number" step="any" value={form.threshold} onChange={set('threshold')} {...field('/condition/threshold')} />
              <FieldError error={error} form="alert-rule" field="/condition/threshold" />
            </label>
          </>
        )}
        <label>
          For (seconds)
          <input data-testid="alert-rule-for" type="number" min="0" value={form.forSeconds} onChange={set('forSeconds')} {...field('/forMs')} />
          <FieldError error={error} form="alert-rule" field="/forMs" />
        </label>
        <button type="submit" data-testid="alert-rule-create">
          Add rule
        </button>
      </form>
      {rules.length === 0 ? (
        <div className="empty-state" data-testid="alert-rules-empty">
          <p>
            <strong>No alert rules.</strong> A rule watches every device (or those with given tags) and fires when a metric stays past a threshold — CPU above 90 % for a minute — or a device stays offline; it resolves by itself when the condition ends.
          </p>
          <p>Add the first rule with the form above. Firing alerts also show as desktop notifications in the desktop app.</p>
        </div>
      ) : (
        <table className="data-table" data-testid="alert-rules">
          <thead>
            <tr>
              <th scope="col">Rule</th>
              <th scope="col">Condition</th>
              <th scope="col">For</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rules.map((r) => (
              <tr key={r.id} data-testid="alert-rule">
                <td className="ellipsis" title={r.name}>{r.name}</td>
                <td data-testid="alert-rule-condition" title={r.condition.kind === 'metric' ? r.condition.metric : undefined}>
                  {describeCondition(r)}
                </td>
                <td>{Math.round(r.forMs / 1000)} s</td>
                <td>
                  <button type="button" aria-label={`Delete rule ${r.name}`} onClick={() => void api.deleteRule(r.id).then(reload)}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>Events</h3>
      {events.length === 0 ? (
        <p className="muted" data-testid="alert-events-empty">
          Nothing has fired yet. When a rule&apos;s condition holds for its duration, the event shows here with the device and the value.
        </p>
      ) : (
        <ol className="alert-events" data-testid="alert-events">
          {events.map((e) => (
            <AlertEventItem key={e.id} event={e} rule={ruleOf(e.ruleId)} />
          ))}
        </ol>
      )}
    </section>
  );
}

function AlertEventItem({ event, rule }: { event: AlertEvent; rule: AlertRule | undefined }) {
  const device = useDevice(event.deviceId);
  const metric = rule?.condition.kind === 'metric' ? rule.condition.metric : null;
  const value = event.value === null ? null : metric === null ? event.value.toLocaleString('en', { maximumFractionDigits: 2 }) : formatMetric(metric, event.value);
  return (
    <li data-testid="alert-event" data-state={event.state}>
      {new Date(event.ts).toLocaleString()} <strong>{event.state}</strong> {event.ruleName} on{' '}
      <span data-testid="alert-event-device" title={event.deviceId}>
        {device?.name ?? event.deviceId}
      </span>
      {value !== null && <span data-testid="alert-event-value"> ({value})</span>}
    </li>
  );
}
