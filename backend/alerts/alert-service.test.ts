import { describe, expect, it } from 'vitest';
import type { AlertEvent, Device } from '../../protocol/index.js';
import { AuditLog } from '../audit/audit-log.js';
import type { AuditStore, NewAuditEntry } from '../audit/audit-store.js';
import { LatestValues } from '../metrics/latest-values.js';
import { METRICS_MIGRATIONS } from '../store/migrations.js';
import { monitoringStoresOnSqlite } from '../store/open-store.js';
import { openDatabase } from '../store/sqlite/db.js';
import { AlertService } from './alert-service.js';
import type { AlertStore } from './alert-store.js';

const A = 'dev_aaaaaaaaaaaaaaaaaaaa';
const B = 'dev_bbbbbbbbbbbbbbbbbbbb';

function device(id: string, tags: Record<string, string>, online = true, lastSeen: number | null = 0): Device {
  return { id, name: id, status: 'active', online, lastSeen, tags, facts: null, createdAt: 0 };
}

function setup() {
  const { alerts: store } = monitoringStoresOnSqlite(openDatabase(':memory:', METRICS_MIGRATIONS));
  const audited: NewAuditEntry[] = [];
  const auditStore: AuditStore = { append: async (e) => void audited.push(e), query: async () => [] };
  let now = 1_000_000;
  const latest = new LatestValues();
  const devices = [device(A, { site: 'lab' }), device(B, { site: 'field' })];
  const heard: AlertEvent[] = [];
  const make = (leads?: () => boolean) => new AlertService({ store, audit: new AuditLog({ audit: auditStore }), latest, devices: () => devices, onEvent: (e) => heard.push(e), now: () => now, leads });
  return { store, audited, latest, devices, heard, make, advance: (ms: number) => (now += ms), now: () => now };
}

describe('AlertService', () => {
  it('fires a metric rule only after the condition held for its duration, in its tag scope, and resolves it', async () => {
    const t = setup();
    const alerts = t.make();
    await alerts.createRule({ name: 'hot cpu', condition: { kind: 'metric', metric: 'cpu.total', comparison: '>', threshold: 90 }, forMs: 60_000, scope: { site: 'lab' }, enabled: true }, 'user:alice');
    t.latest.update(A, [{ ts: t.now(), name: 'cpu.total', value: 95 }]);
    t.latest.update(B, [{ ts: t.now(), name: 'cpu.total', value: 99 }]);
    expect(await alerts.evaluate()).toEqual([]);
    t.advance(30_000);
    t.latest.update(A, [{ ts: t.now(), name: 'cpu.total', value: 96 }]);
    expect(await alerts.evaluate()).toEqual([]);
    t.advance(31_000);
    t.latest.update(A, [{ ts: t.now(), name: 'cpu.total', value: 97 }]);
    expect(await alerts.evaluate()).toMatchObject([{ deviceId: A, state: 'firing', value: 97, ruleName: 'hot cpu' }]);
    expect(await alerts.evaluate()).toEqual([]);
    expect((await alerts.active()).map((e) => e.deviceId)).toEqual([A]);
    t.latest.update(A, [{ ts: t.now() + 1, name: 'cpu.total', value: 20 }]);
    expect(await alerts.evaluate()).toMatchObject([{ deviceId: A, state: 'resolved' }]);
    expect(await alerts.active()).toEqual([]);
    expect(t.heard.map((e) => e.state)).toEqual(['firing', 'resolved']);
    expect((await alerts.listEvents(10)).map((e) => e.state)).toEqual(['resolved', 'firing']);
  });

  it('a dip below the threshold restarts the duration', async () => {
    const t = setup();
    const alerts = t.make();
    await alerts.createRule({ name: 'r', condition: { kind: 'metric', metric: 'm', comparison: '>=', threshold: 1 }, forMs: 10_000, scope: {}, enabled: true }, 'user:alice');
    t.latest.update(A, [{ ts: t.now(), name: 'm', value: 1 }]);
    await alerts.evaluate();
    t.advance(6_000);
    t.latest.update(A, [{ ts: t.now(), name: 'm', value: 0 }]);
    await alerts.evaluate();
    t.advance(6_000);
    t.latest.update(A, [{ ts: t.now(), name: 'm', value: 2 }]);
    expect(await alerts.evaluate()).toEqual([]);
  });

  it('fires an offline rule from the last-seen time, resolves when the device is back, and keeps firing state across a restart', async () => {
    const t = setup();
    const alerts = t.make();
    await alerts.createRule({ name: 'gone', condition: { kind: 'offline' }, forMs: 120_000, scope: {}, enabled: true }, 'user:alice');
    t.devices[1] = device(B, {}, false, t.now() - 100_000);
    expect(await alerts.evaluate()).toEqual([]);
    t.advance(20_000);
    expect(await alerts.evaluate()).toMatchObject([{ deviceId: B, state: 'firing' }]);
    const restarted = t.make();
    expect(await restarted.evaluate()).toEqual([]);
    t.devices[1] = device(B, {}, true, t.now());
    expect(await restarted.evaluate()).toMatchObject([{ deviceId: B, state: 'resolved' }]);
  });

  it('two evaluators (two nodes) seeing the same transition store and announce one event each time', async () => {
    const t = setup();
    const [one, two] = [t.make(), t.make()];
    await one.createRule({ name: 'gone', condition: { kind: 'offline' }, forMs: 0, scope: {}, enabled: true }, 'user:alice');
    t.devices[0] = device(A, { site: 'lab' }, false, t.now());
    const fired = await Promise.all([one.evaluate(), two.evaluate()]);
    expect(fired.flat().map((e) => [e.deviceId, e.state])).toEqual([[A, 'firing']]);
    t.devices[0] = device(A, { site: 'lab' }, true, t.now());
    const resolved = await Promise.all([one.evaluate(), two.evaluate()]);
    expect(resolved.flat().map((e) => [e.deviceId, e.state])).toEqual([[A, 'resolved']]);
    expect(t.heard.map((e) => e.state)).toEqual(['firing', 'resolved']);
  });

  it('only the leader stores transitions; a follower that takes the lead fires a held condition at once and resolves what it fired', async () => {
    const t = setup();
    let leading = false;
    const follower = t.make(() => leading);
    await follower.createRule({ name: 'hot', condition: { kind: 'metric', metric: 'm', comparison: '>', threshold: 1 }, forMs: 10_000, scope: {}, enabled: true }, 'user:alice');
    t.latest.update(A, [{ ts: t.now(), name: 'm', value: 5 }]);
    expect(await follower.evaluate()).toEqual([]);
    t.advance(11_000);
    t.latest.update(A, [{ ts: t.now(), name: 'm', value: 5 }]);
    expect(await follower.evaluate()).toEqual([]);
    expect(await follower.active()).toEqual([]);
    // The lead passes to it: the condition has held for 11 s already.
    leading = true;
    expect(await follower.evaluate()).toMatchObject([{ deviceId: A, state: 'firing' }]);
    // It loses the lead while the condition ends: the resolution waits for a leader.
    leading = false;
    t.latest.update(A, [{ ts: t.now() + 1, name: 'm', value: 0 }]);
    expect(await follower.evaluate()).toEqual([]);
    expect((await follower.active()).map((e) => e.deviceId)).toEqual([A]);
    leading = true;
    expect(await follower.evaluate()).toMatchObject([{ deviceId: A, state: 'resolved' }]);
    expect(t.heard.map((e) => e.state)).toEqual(['firing', 'resolved']);
  });

  it('audits rule changes itself, refuses a missing rule with NOT_FOUND and forgets a deleted rule\'s firing state', async () => {
    const t = setup();
    const alerts = t.make();
    const rule = await alerts.createRule({ name: 'gone', condition: { kind: 'offline' }, forMs: 0, scope: {}, enabled: true }, 'user:alice');
    t.devices[0] = device(A, { site: 'lab' }, false, t.now());
    expect(await alerts.evaluate()).toHaveLength(1);
    await alerts.deleteRule(rule.id, 'user:bob');
    expect(await alerts.active()).toEqual([]);
    await expect(alerts.deleteRule(rule.id, 'user:bob')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(t.audited.map((e) => [e.actor, e.action, e.target])).toEqual([['user:alice', 'alert.rule.create', String(rule.id)], ['user:bob', 'alert.rule.delete', String(rule.id)]]);
  });

  it('runs passes on its timer without overlapping them, and stop waits for the pass in flight', async () => {
    const t = setup();
    let listing = 0;
    let release = (): void => undefined;
    const slow = new AlertService({
      store: Object.assign(Object.create(t.store) as AlertStore, {
        listRules: async () => {
          listing++;
          await new Promise<void>((resolve) => {
            release = resolve;
          });
          return [];
        },
      }),
      audit: new AuditLog({ audit: { append: async () => undefined, query: async () => [] } }), latest: t.latest, devices: () => t.devices, onEvent: () => undefined,
    });
    slow.start(5);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(listing).toBe(1);
    let stopped = false;
    const stopping = slow.stop().then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(listing).toBe(1);
  });
});
