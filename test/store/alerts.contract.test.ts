import { expect, it } from 'vitest';
import type { AlertEvent, AlertRuleInput, Device } from '../../protocol/index.js';
import { AlertService } from '../../backend/alerts/alert-service.js';
import type { AlertTransition } from '../../backend/alerts/alert-store.js';
import { AuditLog } from '../../backend/audit/audit-log.js';
import { LatestValues } from '../../backend/metrics/latest-values.js';
import { describeEachEngine } from './engines.js';

const A = 'dev_aaaaaaaaaaaaaaaaaaaa';
const B = 'dev_bbbbbbbbbbbbbbbbbbbb';

const OFFLINE: AlertRuleInput = { name: 'gone', condition: { kind: 'offline' }, forMs: 0, scope: {}, enabled: true };
const HOT: AlertRuleInput = { name: 'hot', condition: { kind: 'metric', metric: 'cpu.total', comparison: '>=', threshold: 90.5 }, forMs: 60_000, scope: { site: 'lab' }, enabled: false };

describeEachEngine('alert store', (store) => {
  const alerts = () => store().monitoring.alerts;

  async function rule(input: AlertRuleInput = OFFLINE) {
    const created = await alerts().createRule(input, 1000, 500);
    if (!created) throw new Error('rule not created');
    return created;
  }

  const at = (r: { id: number; name: string }, deviceId: string, state: AlertTransition['state'], ts: number): AlertTransition =>
    ({ rule: r, deviceId, state, ts, value: state === 'firing' ? 97.5 : null });

  it('creates, lists and deletes rules as they were given', async () => {
    const hot = await rule(HOT);
    expect(hot).toEqual({ ...HOT, id: hot.id, createdAt: 1000 });
    const gone = await rule(OFFLINE);
    expect(await alerts().listRules()).toEqual([hot, gone]);
    expect(await alerts().deleteRule(hot.id)).toBe(true);
    expect(await alerts().deleteRule(hot.id)).toBe(false);
    expect(await alerts().listRules()).toEqual([gone]);
  });

  it('refuses a rule beyond the maximum', async () => {
    expect(await alerts().createRule(OFFLINE, 1, 2)).toBeDefined();
    expect(await alerts().createRule(OFFLINE, 1, 2)).toBeDefined();
    expect(await alerts().createRule(OFFLINE, 1, 2)).toBeUndefined();
    expect(await alerts().listRules()).toHaveLength(2);
  });

  it('stores a transition only when it changes the state of that rule and device', async () => {
    const r = await rule();
    expect(await alerts().transition(at(r, A, 'resolved', 1))).toBeUndefined();
    const fired = await alerts().transition(at(r, A, 'firing', 2));
    expect(fired).toEqual({ id: fired?.id, ruleId: r.id, ruleName: 'gone', deviceId: A, state: 'firing', ts: 2, value: 97.5 });
    expect(await alerts().transition(at(r, A, 'firing', 3))).toBeUndefined();
    const other = await alerts().transition(at(r, B, 'firing', 4));
    expect(await alerts().active()).toEqual([other, fired]);
    const resolved = await alerts().transition(at(r, A, 'resolved', 5));
    expect(resolved).toMatchObject({ deviceId: A, state: 'resolved', ts: 5, value: null });
    expect(await alerts().transition(at(r, A, 'resolved', 6))).toBeUndefined();
    expect(await alerts().active()).toEqual([other]);
    const again = await alerts().transition(at(r, A, 'firing', 7));
    expect(await alerts().active()).toEqual([again, other]);
    expect((await alerts().listEvents(10)).map((e) => [e.deviceId, e.state, e.ts])).toEqual([[A, 'firing', 7], [A, 'resolved', 5], [B, 'firing', 4], [A, 'firing', 2]]);
    expect((await alerts().listEvents(2, B)).map((e) => e.ts)).toEqual([4]);
    expect((await alerts().listEvents(2)).map((e) => e.ts)).toEqual([7, 5]);
  });

  it('stores one event when many evaluators race on the same transition', async () => {
    const r = await rule();
    const fired = await Promise.all(Array.from({ length: 12 }, (_, i) => alerts().transition(at(r, A, 'firing', 10 + i))));
    expect(fired.filter(Boolean)).toHaveLength(1);
    const resolved = await Promise.all(Array.from({ length: 12 }, (_, i) => alerts().transition(at(r, A, 'resolved', 30 + i))));
    expect(resolved.filter(Boolean)).toHaveLength(1);
    expect((await alerts().listEvents(100)).map((e) => e.state)).toEqual(['resolved', 'firing']);
    expect(await alerts().active()).toEqual([]);
  });

  it('two alert services evaluating the same transitions at once store and announce one event each', async () => {
    const r = await rule({ ...OFFLINE, scope: { site: 'lab' } });
    const heard: AlertEvent[] = [];
    let devices: Device[] = [{ id: A, name: 'a', status: 'active', online: false, lastSeen: 0, tags: { site: 'lab' }, facts: null, createdAt: 0 }];
    const audit = new AuditLog(store().stores);
    const node = () => new AlertService({ store: alerts(), audit, latest: new LatestValues(), devices: () => devices, onEvent: (e) => heard.push(e), now: () => 5_000 });
    const [one, two] = [node(), node()];
    const fired = await Promise.all([one.evaluate(), two.evaluate()]);
    expect(fired.flat().map((e) => [e.ruleId, e.deviceId, e.state])).toEqual([[r.id, A, 'firing']]);
    expect(await Promise.all([one.evaluate(), two.evaluate()])).toEqual([[], []]);
    devices = devices.map((d) => ({ ...d, online: true }));
    const resolved = await Promise.all([one.evaluate(), two.evaluate()]);
    expect(resolved.flat().map((e) => [e.ruleId, e.deviceId, e.state])).toEqual([[r.id, A, 'resolved']]);
    expect(heard.map((e) => e.state)).toEqual(['firing', 'resolved']);
    expect((await alerts().listEvents(10)).map((e) => e.state)).toEqual(['resolved', 'firing']);
  });

  it('a deleted rule forgets its firing state but keeps its events', async () => {
    const r = await rule();
    await alerts().transition(at(r, A, 'firing', 1));
    await alerts().deleteRule(r.id);
    expect(await alerts().active()).toEqual([]);
    expect(await alerts().listEvents(10)).toHaveLength(1);
    // Nothing left to resolve under that id, even if SQLite hands the id out again.
    expect(await alerts().transition(at(r, A, 'resolved', 2))).toBeUndefined();
  });

  it('rolls a transition back with the transaction it was made in', async () => {
    const r = await rule();
    const { monitoring } = store();
    await expect(monitoring.transaction(async (tx) => {
      expect(await tx.alerts.transition(at(r, A, 'firing', 1))).toBeDefined();
      throw new Error('later step failed');
    })).rejects.toThrow('later step failed');
    expect(await alerts().active()).toEqual([]);
    expect(await alerts().listEvents(10)).toEqual([]);
    expect(await alerts().transition(at(r, A, 'firing', 2))).toBeDefined();
  });
});
