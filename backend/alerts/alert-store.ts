import type { AlertEvent, AlertRule, AlertRuleInput } from '../../protocol/index.js';

export type AlertState = AlertEvent['state'];

/** A change of an alert's state for one device, recorded as an event if it really is a change. */
export interface AlertTransition {
  rule: Pick<AlertRule, 'id' | 'name'>;
  deviceId: string;
  state: AlertState;
  ts: number;
  value: number | null;
}

/** Alert rules, their events, and which (rule, device) pairs are firing. */
export interface AlertStore {
  listRules(): Promise<AlertRule[]>;
  /** Adds a rule unless there are `max` already (then undefined); the count and the insert are one statement. */
  createRule(input: AlertRuleInput, createdAt: number, max: number): Promise<AlertRule | undefined>;
  /** Deletes a rule and forgets its firing state (its events stay); false when there was no such rule. */
  deleteRule(id: number): Promise<boolean>;
  /** Newest first. */
  listEvents(limit: number, deviceId?: string): Promise<AlertEvent[]>;
  /** The firing event of every (rule, device) that is firing now, newest first. */
  active(): Promise<AlertEvent[]>;
  /**
   * Records `firing` unless that (rule, device) is firing already, or `resolved` only if it is
   * firing: the check and the change are atomic, so two evaluators racing on the same transition
   * store one event. Returns the event stored, or undefined when the state was already that.
   */
  transition(t: AlertTransition): Promise<AlertEvent | undefined>;
}
