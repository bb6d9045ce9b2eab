import { TetherError, missingCase, type AlertCondition, type AlertEvent, type AlertRule, type AlertRuleInput, type Device } from '../../protocol/index.js';
import type { LatestValues } from '../metrics/latest-values.js';
import type { Db } from '../store/sqlite/db.js';

interface RuleRow { id: number; name: string; condition: string; for_ms: number; scope: string; enabled: number; created_at: number }
interface EventRow { id: number; rule_id: number; rule_name: string; device_id: string; state: 'firing' | 'resolved'; ts: number; value: number | null }

/** Metric values older than this no longer hold a condition true (the device stopped reporting). */
const STALE_MS = 5 * 60_000;
const MAX_RULES = 500;

function toRule(r: RuleRow): AlertRule {
  return { id: r.id, name: r.name, condition: JSON.parse(r.condition) as AlertCondition, forMs: r.for_ms, scope: JSON.parse(r.scope) as Record<string, string>, enabled: r.enabled === 1, createdAt: r.created_at };
}
function toEvent(r: EventRow): AlertEvent {
  return { id: r.id, ruleId: r.rule_id, ruleName: r.rule_name, deviceId: r.device_id, state: r.state, ts: r.ts, value: r.value };
}

export function compare(value: number, comparison: '>' | '>=' | '<' | '<=', threshold: number): boolean {
  switch (comparison) {
    case '>': return value > threshold;
    case '>=': return value >= threshold;
    case '<': return value < threshold;
    case '<=': return value <= threshold;
    default: return missingCase(comparison);
  }
}

function inScope(scope: Record<string, string>, tags: Record<string, string>): boolean {
  return Object.entries(scope).every(([k, v]) => tags[k] === v);
}

export interface AlertServiceDeps {
  db: Db;
  latest: LatestValues;
  /** Active devices with tags and presence. */
  devices: () => readonly Device[];
  /** Each firing or resolved event, after it is stored (console push; desktop notifications later). */
  onEvent: (event: AlertEvent) => void;
  now?: () => number;
}

/**
 * Alert rules and their evaluation: a metric compared with a threshold, or a device offline,
 * holding for `forMs` fires an event; the condition ending resolves it. Pending and firing
 * state is per (rule, device); firing state survives restarts through the events table.
 */
export class AlertService {
  private readonly state = new Map<string, { since: number; firing: boolean }>();
  private readonly now: () => number;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly deps: AlertServiceDeps) {
    this.now = deps.now ?? Date.now;
    const open = deps.db
      .prepare(`SELECT e.* FROM alert_events e JOIN (SELECT rule_id, device_id, max(id) AS id FROM alert_events GROUP BY rule_id, device_id) last ON last.id = e.id WHERE e.state = 'firing'`)
      .all() as EventRow[];
    for (const e of open) this.state.set(`${e.rule_id}\n${e.device_id}`, { since: e.ts, firing: true });
  }

  listRules(): AlertRule[] {
    return (this.deps.db.prepare('SELECT * FROM alert_rules ORDER BY id').all() as RuleRow[]).map(toRule);
  }

  createRule(input: AlertRuleInput): AlertRule {
    const count = this.deps.db.prepare('SELECT count(*) FROM alert_rules').pluck().get() as number;
    if (count >= MAX_RULES) throw new TetherError('CONFLICT', `At most ${MAX_RULES} alert rules`);
    const id = Number(
      this.deps.db
        .prepare('INSERT INTO alert_rules(name, condition, for_ms, scope, enabled, created_at) VALUES (?,?,?,?,?,?)')
        .run(input.name, JSON.stringify(input.condition), input.forMs, JSON.stringify(input.scope), input.enabled ? 1 : 0, this.now()).lastInsertRowid,
    );
    return toRule(this.deps.db.prepare('SELECT * FROM alert_rules WHERE id = ?').get(id) as RuleRow);
  }

  deleteRule(id: number): boolean {
    const deleted = this.deps.db.prepare('DELETE FROM alert_rules WHERE id = ?').run(id).changes > 0;
    for (const key of [...this.state.keys()]) if (key.startsWith(`${id}\n`)) this.state.delete(key);
    return deleted;
  }

  listEvents(limit: number, deviceId?: string): AlertEvent[] {
    const rows = deviceId
      ? this.deps.db.prepare('SELECT * FROM alert_events WHERE device_id = ? ORDER BY id DESC LIMIT ?').all(deviceId, limit)
      : this.deps.db.prepare('SELECT * FROM alert_events ORDER BY id DESC LIMIT ?').all(limit);
    return (rows as EventRow[]).map(toEvent);
  }

  /** The last firing event of each alert that is firing now. */
  active(): AlertEvent[] {
    const rows = this.deps.db
      .prepare(`SELECT e.* FROM alert_events e JOIN (SELECT rule_id, device_id, max(id) AS id FROM alert_events GROUP BY rule_id, device_id) last ON last.id = e.id WHERE e.state = 'firing' ORDER BY e.id DESC`)
      .all() as EventRow[];
    return rows.map(toEvent);
  }

  /** One evaluation pass over every enabled rule and every device in its scope. */
  evaluate(): AlertEvent[] {
    const now = this.now();
    const events: AlertEvent[] = [];
    const devices = this.deps.devices().filter((d) => d.status === 'active');
    for (const rule of this.listRules()) {
      if (!rule.enabled) continue;
      for (const device of devices) {
        if (!inScope(rule.scope, device.tags)) continue;
        const key = `${rule.id}\n${device.id}`;
        let holds: boolean;
        let since = now;
        let value: number | null = null;
        const condition = rule.condition;
        switch (condition.kind) {
          case 'metric': {
            const latest = this.deps.latest.get(device.id, condition.metric);
            holds = latest !== undefined && now - latest.ts <= STALE_MS && compare(latest.value, condition.comparison, condition.threshold);
            value = latest?.value ?? null;
            break;
          }
          case 'offline':
            holds = !device.online;
            since = device.lastSeen ?? device.createdAt;
            break;
          default:
            missingCase(condition);
        }
        const current = this.state.get(key);
        if (holds) {
          const entry = current ?? { since, firing: false };
          if (!current) this.state.set(key, entry);
          if (!entry.firing && now - entry.since >= rule.forMs) {
            entry.firing = true;
            events.push(this.record(rule, device.id, 'firing', now, value));
          }
        } else if (current) {
          this.state.delete(key);
          if (current.firing) events.push(this.record(rule, device.id, 'resolved', now, value));
        }
      }
    }
    return events;
  }

  private record(rule: AlertRule, deviceId: string, state: 'firing' | 'resolved', ts: number, value: number | null): AlertEvent {
    const id = Number(
      this.deps.db.prepare('INSERT INTO alert_events(rule_id, rule_name, device_id, state, ts, value) VALUES (?,?,?,?,?,?)').run(rule.id, rule.name, deviceId, state, ts, value).lastInsertRowid,
    );
    const event: AlertEvent = { id, ruleId: rule.id, ruleName: rule.name, deviceId, state, ts, value };
    this.deps.onEvent(event);
    return event;
  }

  start(intervalMs = 5_000): void {
    this.timer = setInterval(() => this.evaluate(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
