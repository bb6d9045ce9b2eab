import { TetherError, missingCase, type AlertEvent, type AlertRule, type AlertRuleInput, type Device } from '../../protocol/index.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { LatestValues } from '../metrics/latest-values.js';
import type { AlertStore } from './alert-store.js';

/** Metric values older than this no longer hold a condition true (the device stopped reporting). */
const STALE_MS = 5 * 60_000;
const MAX_RULES = 500;

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
  store: AlertStore;
  /** Rule changes are audited here, by whoever makes them (API or CLI). */
  audit: AuditLog;
  latest: LatestValues;
  /** Active devices with tags and presence. */
  devices: () => readonly Device[];
  /** Each firing or resolved event, after it is stored (console push; desktop notifications later). */
  onEvent: (event: AlertEvent) => void;
  /** An evaluation pass that failed (the store unavailable); the next tick tries again. */
  onError?: (err: unknown) => void;
  /**
   * Whether this evaluator stores transitions (a cluster's leader; always on one node). Others
   * follow how long each condition has held, so a new leader fires on time, and store nothing.
   */
  leads?: () => boolean;
  now?: () => number;
}

/**
 * Alert rules and their evaluation: a metric compared with a threshold, or a device offline,
 * holding for `forMs` fires an event; the condition ending resolves it. How long a condition has
 * held is per (rule, device) in memory; whether it is firing is the store's (alert_state), which
 * decides each transition atomically, so firing state survives restarts and two evaluators (two
 * nodes, or two overlapping passes) store one event per transition.
 */
export class AlertService {
  private readonly state = new Map<string, { since: number; firing: boolean }>();
  private readonly now: () => number;
  private loaded: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private pass: Promise<void> | null = null;

  constructor(private readonly deps: AlertServiceDeps) {
    this.now = deps.now ?? Date.now;
  }

  private leads(): boolean {
    return this.deps.leads?.() ?? true;
  }

  listRules(): Promise<AlertRule[]> {
    return this.deps.store.listRules();
  }

  async createRule(input: AlertRuleInput, actor: string): Promise<AlertRule> {
    const rule = await this.deps.store.createRule(input, this.now(), MAX_RULES);
    if (!rule) throw new TetherError('CONFLICT', `At most ${MAX_RULES} alert rules`);
    await this.deps.audit.record(actor, 'alert.rule.create', String(rule.id), { name: rule.name });
    return rule;
  }

  /** Deletes a rule (NOT_FOUND when there is none) with its firing state; its events stay. */
  async deleteRule(id: number, actor: string): Promise<void> {
    if (!(await this.deps.store.deleteRule(id))) throw new TetherError('NOT_FOUND', 'No such alert rule');
    for (const key of [...this.state.keys()]) if (key.startsWith(`${id}\n`)) this.state.delete(key);
    await this.deps.audit.record(actor, 'alert.rule.delete', String(id));
  }

  listEvents(limit: number, deviceId?: string): Promise<AlertEvent[]> {
    return this.deps.store.listEvents(limit, deviceId);
  }

  /** The last firing event of each alert that is firing now. */
  active(): Promise<AlertEvent[]> {
    return this.deps.store.active();
  }

  /** What was firing when this process started: those alerts count as holding since they fired. */
  private load(): Promise<void> {
    this.loaded ??= this.deps.store.active().then(
      (open) => {
        for (const e of open) this.state.set(`${e.ruleId}\n${e.deviceId}`, { since: e.ts, firing: true });
      },
      (err: unknown) => {
        this.loaded = null;
        throw err;
      },
    );
    return this.loaded;
  }

  /** One evaluation pass over every enabled rule and every device in its scope; returns the events it stored. */
  async evaluate(): Promise<AlertEvent[]> {
    await this.load();
    const now = this.now();
    const events: AlertEvent[] = [];
    const devices = this.deps.devices().filter((d) => d.status === 'active');
    for (const rule of await this.listRules()) {
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
          if (!entry.firing && now - entry.since >= rule.forMs && this.leads()) {
            await this.record(events, rule, device.id, 'firing', now, value);
            // Firing from here on, whether this call stored the event or another evaluator had.
            entry.firing = true;
          }
        } else if (current) {
          // Forgotten only once stored: a failed write (or one left to the leader) is tried again by the next pass.
          if (current.firing) {
            if (!this.leads()) continue;
            await this.record(events, rule, device.id, 'resolved', now, value);
          }
          this.state.delete(key);
        }
      }
    }
    return events;
  }

  private async record(events: AlertEvent[], rule: AlertRule, deviceId: string, state: AlertEvent['state'], ts: number, value: number | null): Promise<void> {
    const event = await this.deps.store.transition({ rule, deviceId, state, ts, value });
    if (!event) return;
    events.push(event);
    this.deps.onEvent(event);
  }

  start(intervalMs = 5_000): void {
    this.timer = setInterval(() => {
      // A pass slower than the interval (a slow database) is not overlapped by the next one.
      if (this.pass) return;
      this.pass = this.evaluate()
        .then(() => undefined, (err: unknown) => this.deps.onError?.(err))
        .finally(() => {
          this.pass = null;
        });
    }, intervalMs);
    this.timer.unref();
  }

  /** Stops the timer; resolves once a pass in flight has ended (before the store closes). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.pass;
  }
}
