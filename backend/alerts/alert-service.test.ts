import { describe, expect, it } from 'vitest';
import type { AlertEvent, Device } from '../../protocol/index.js';
import { LatestValues } from '../metrics/latest-values.js';
import { openDatabase } from '../store/sqlite/db.js';
import { METRICS_MIGRATIONS } from '../store/migrations.js';
import { AlertService } from './alert-service.js';

const A = 'dev_aaaaaaaaaaaaaaaaaaaa';
const B = 'dev_bbbbbbbbbbbbbbbbbbbb';

function device(id: string, tags: Record<string, string>, online = true, lastSeen: number | null = 0): Device {
  return { id, name: id, status: 'active', online, lastSeen, tags, facts: null, createdAt: 0 };
}

function setup() {
  const db = openDatabase(':memory:', METRICS_MIGRATIONS);
  let now = 1_000_000;
  const latest = new LatestValues();
  const devices = [device(A, { site: 'lab' }), device(B, { site: 'field' })];
  const heard: AlertEvent[] = [];
  const make = () => new AlertService({ db, latest, devices: () => devices, onEvent: (e) => heard.push(e), now: () => now });
  return { db, latest, devices, heard, make, advance: (ms: number) => (now += ms), now: () => now };
}

describe('AlertService', () => {
  it('fires a metric rule only after the condition held for its duration, in its tag scope, and resolves it', () => {
    const t = setup();
    const alerts = t.make();
    alerts.createRule({ name: 'hot cpu', condition: { kind: 'metric', metric: 'cpu.total', comparison: '>', threshold: 90 }, forMs: 60_000, scope: { site: 'lab' }, enabled: true });
    t.latest.update(A, [{ ts: t.now(), name: 'cpu.total', value: 95 }]);
    t.latest.update(B, [{ ts: t.now(), name: 'cpu.total', value: 99 }]);
    expect(alerts.evaluate()).toEqual([]);
    t.advance(30_000);
    t.latest.update(A, [{ ts: t.now(), name: 'cpu.total', value: 96 }]);
    expect(alerts.evaluate()).toEqual([]);
    t.advance(31_000);
    t.latest.update(A, [{ ts: t.now(), name: 'cpu.total', value: 97 }]);
    expect(alerts.evaluate()).toMatchObject([{ deviceId: A, state: 'firing', value: 97, ruleName: 'hot cpu' }]);
    expect(alerts.evaluate()).toEqual([]);
    expect(alerts.active().map((e) => e.deviceId)).toEqual([A]);
    t.latest.update(A, [{ ts: t.now() + 1, name: 'cpu.total', value: 20 }]);
    expect(alerts.evaluate()).toMatchObject([{ deviceId: A, state: 'resolved' }]);
    expect(alerts.active()).toEqual([]);
    expect(t.heard.map((e) => e.state)).toEqual(['firing', 'resolved']);
    expect(alerts.listEvents(10).map((e) => e.state)).toEqual(['resolved', 'firing']);
  });

  it('a dip below the threshold restarts the duration', () => {
    const t = setup();
    const alerts = t.make();
    alerts.createRule({ name: 'r', condition: { kind: 'metric', metric: 'm', comparison: '>=', threshold: 1 }, forMs: 10_000, scope: {}, enabled: true });
    t.latest.update(A, [{ ts: t.now(), name: 'm', value: 1 }]);
    alerts.evaluate();
    t.advance(6_000);
    t.latest.update(A, [{ ts: t.now(), name: 'm', value: 0 }]);
    alerts.evaluate();
    t.advance(6_000);
    t.latest.update(A, [{ ts: t.now(), name: 'm', value: 2 }]);
    expect(alerts.evaluate()).toEqual([]);
  });

  it('fires an offline rule from the last-seen time, resolves when the device is back, and keeps firing state across a restart', () => {
    const t = setup();
    const alerts = t.make();
    alerts.createRule({ name: 'gone', condition: { kind: 'offline' }, forMs: 120_000, scope: {}, enabled: true });
    t.devices[1] = device(B, {}, false, t.now() - 100_000);
    expect(alerts.evaluate()).toEqual([]);
    t.advance(20_000);
    expect(alerts.evaluate()).toMatchObject([{ deviceId: B, state: 'firing' }]);
    const restarted = t.make();
    expect(restarted.evaluate()).toEqual([]);
    t.devices[1] = device(B, {}, true, t.now());
    expect(restarted.evaluate()).toMatchObject([{ deviceId: B, state: 'resolved' }]);
  });
});
