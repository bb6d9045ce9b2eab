import Database from 'better-sqlite3';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { ConfigApplyParams, type ConfigReport } from '../../protocol/index.js';
import { AuditLog } from '../audit/audit-log.js';
import { storesOnSqlite } from '../store/open-store.js';
import { DeviceDirectory, type DeviceEntry } from '../devices/device-directory.js';
import { LocalDeviceRouter } from '../devices/device-router.js';
import { FleetEvents } from '../devices/fleet-events.js';
import { migrate } from '../store/sqlite/db.js';
import { MAIN_MIGRATIONS } from '../store/migrations.js';
import { ConfigDelivery, DEFAULT_MAX_APPLIES_IN_FLIGHT, DEFAULT_SLICE_BUDGET_MS } from './config-delivery.js';
import { ConfigService } from './config-service.js';
import { SchemaValidator } from './schema-validator.js';

interface Received {
  version: number;
  config: Record<string, unknown>;
}

/** A config service and delivery over `count` connected devices whose links answer config.apply as an agent would. */
async function fleet(count: number, options: { defer?: (next: () => Promise<void>) => void; clock?: () => number; holdAnswers?: boolean; db?: Database.Database } = {}) {
  const db = options.db ?? new Database(':memory:');
  migrate(db, MAIN_MIGRATIONS);
  const stores = storesOnSqlite(db);
  const repo = stores.config;
  const events = new FleetEvents();
  const entries: DeviceEntry[] = Array.from({ length: count }, (_, i) => ({ id: `dev_${String(i).padStart(5, '0')}`, name: `robot-${i}`, status: 'active', tags: { site: `s${i % 4}` } }));
  const directory = await DeviceDirectory.load({ list: () => entries }, events);
  const router = new LocalDeviceRouter();
  const received = new Map<string, Received[]>();
  const held: Array<() => void> = [];
  for (const entry of entries) {
    received.set(entry.id, []);
    router.attach(entry.id, {
      request: (method, params) => {
        const parsed = ConfigApplyParams.parse(params);
        received.get(entry.id)?.push({ version: parsed.version, config: parsed.config });
        const report: ConfigReport = { version: parsed.version, status: 'applied', error: null };
        if (!options.holdAnswers) return Promise.resolve(report);
        return new Promise((resolve) => held.push(() => resolve(report)));
      },
      emit: () => undefined,
      close: () => undefined,
    });
  }
  const delivery = new ConfigDelivery({ store: repo, devices: directory, router, log: pino({ level: 'silent' }), defer: options.defer, clock: options.clock });
  events.subscribe((event) => delivery.onFleetEvent(event));
  const service = await ConfigService.create({ stores, validator: new SchemaValidator(), audit: new AuditLog(stores), deviceExists: (id) => directory.has(id), onChange: () => delivery.refreshAll() });
  const pushes = () => [...received.values()].reduce((n, list) => n + list.length, 0);
  return { db, repo, events, directory, entries, delivery, service, received, held, pushes };
}

/** Slices queued instead of run, so a test steps through a pass itself. */
function steppedSlices() {
  const queue: Array<() => Promise<void>> = [];
  return {
    defer: (next: () => Promise<void>) => void queue.push(next),
    get queued() {
      return queue.length;
    },
    /** Runs the next slice to its end (its store write included). */
    async step(): Promise<boolean> {
      const next = queue.shift();
      await next?.();
      return next !== undefined;
    },
  };
}

/** A clock on which every reading costs a millisecond: the budget logic, not this machine's speed, decides the slices. */
function tickingClock() {
  let now = 0;
  return { clock: () => ++now, get now() {
    return now;
  } };
}

/** Lets answered requests settle (their reports are written in promise callbacks). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Turns of the event loop until three in a row send nothing more (queued sends go out a budgeted batch per turn). */
async function quiesce(pushes: () => number): Promise<void> {
  for (let quiet = 0, last = pushes(); quiet < 3; ) {
    await settle();
    const now = pushes();
    quiet = now === last ? quiet + 1 : 0;
    last = now;
  }
}

describe('ConfigDelivery', () => {
  it('answers a change at once and works through a 10,000-device fleet in slices bounded by the budget', async () => {
    const slices = steppedSlices();
    const time = tickingClock();
    const { service, repo, pushes, entries } = await fleet(10_000, { defer: slices.defer, clock: time.clock });

    const layer = await service.putLayer('fleet', { values: { app: { color: 'blue' } }, expectedVersion: 0 }, 'user:a');
    expect(layer.version).toBe(1);
    expect(pushes()).toBe(0);
    expect(await repo.deviceStates()).toHaveLength(0);
    expect(slices.queued).toBe(1);

    const writes = vi.spyOn(repo, 'setDesired');
    const spans: number[] = [];
    while (slices.queued > 0) {
      const before = time.now;
      await slices.step();
      spans.push(time.now - before);
    }
    const sizes = writes.mock.calls.map(([entries]) => [...entries].length);
    const written = sizes.reduce((a, b) => a + b, 0);
    expect(spans.length).toBeGreaterThanOrEqual(10_000 / DEFAULT_SLICE_BUDGET_MS);
    // A slice stops once its clock says the budget is spent; the few readings after that write and send.
    expect(Math.max(...spans)).toBeLessThanOrEqual(DEFAULT_SLICE_BUDGET_MS + 4);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(DEFAULT_SLICE_BUDGET_MS);
    expect(written).toBe(entries.length);
    expect(pushes()).toBe(entries.length);
    expect((await repo.deviceStates()).every((s) => s.desiredVersion === 1)).toBe(true);
  });

  it('never sends an older config after a newer one when a second change lands mid-pass, and every device ends at the newest', async () => {
    const slices = steppedSlices();
    const { service, repo, received, held, delivery, pushes } = await fleet(2_000, { defer: slices.defer, clock: tickingClock().clock, holdAnswers: true });
    const first = await service.putLayer('fleet', { values: { app: { color: 'blue' } }, expectedVersion: 0 }, 'user:a');
    // Part of the fleet has the first change in flight when the second arrives.
    for (let i = 0; i < 3 && slices.queued > 0; i++) await slices.step();
    const reachedEarly = [...received.values()].filter((list) => list.length > 0).length;
    expect(reachedEarly).toBeGreaterThan(0);
    expect(reachedEarly).toBeLessThan(2_000);
    const second = await service.putLayer('fleet', { values: { app: { color: 'red' } }, expectedVersion: first.version }, 'user:a');
    expect(delivery.refreshing).toBe(true);
    while (slices.queued > 0) await slices.step();
    // The agents answer now; an apply that was in flight is followed by one more with the newest config.
    while (held.length > 0) {
      for (const answer of held.splice(0)) answer();
      await quiesce(pushes);
    }
    for (const [, list] of received) {
      const versions = list.map((r) => r.version);
      expect(versions).toEqual([...versions].sort((a, b) => a - b));
      expect(list.at(-1)).toEqual({ version: second.version, config: { app: { color: 'red' } } });
    }
    const status = await delivery.fleetStatus();
    expect(status.devices).toHaveLength(2_000);
    expect(status.devices.every((d) => d.desiredVersion === second.version && d.state === 'applied' && !d.drift)).toBe(true);
    expect((await repo.deviceStates()).every((s) => s.reported?.version === second.version)).toBe(true);
  });

  it('sends the newest config, not the one a slice computed, when a change lands while the slice writes', async () => {
    const slices = steppedSlices();
    const { service, repo, received } = await fleet(200, { defer: slices.defer, clock: tickingClock().clock });
    const first = await service.putLayer('fleet', { values: { app: { color: 'blue' } }, expectedVersion: 0 }, 'user:a');
    // On PostgreSQL the write is a round trip: another request can commit a change meanwhile.
    const write = repo.setDesired.bind(repo);
    let second: Awaited<ReturnType<typeof service.putLayer>> | undefined;
    vi.spyOn(repo, 'setDesired').mockImplementation(async (entries) => {
      await write(entries);
      second ??= await service.putLayer('fleet', { values: { app: { color: 'red' } }, expectedVersion: first.version }, 'user:b');
    });
    await slices.step();
    await slices.step();
    await settle();
    const reached = [...received.values()].filter((list) => list.length > 0);
    expect(reached.length).toBeGreaterThan(0);
    expect(reached.every((list) => list.length === 1 && list[0]?.version === second?.version && JSON.stringify(list[0]?.config) === '{"app":{"color":"red"}}')).toBe(true);
    while (slices.queued > 0) await slices.step();
    await settle();
    expect([...received.values()].every((list) => list.at(-1)?.version === second?.version && list.every((r) => JSON.stringify(r.config) === '{"app":{"color":"red"}}'))).toBe(true);
  });

  it('under a stream of changes each landing mid-pass, goes on where the last pass stopped so every device is reached', async () => {
    const slices = steppedSlices();
    const { service, received } = await fleet(1_000, { defer: slices.defer, clock: tickingClock().clock });
    let version = 0;
    // Each change leaves time for a fifth of the fleet (200 ms of slices) before the next one lands.
    for (let change = 0; change < 8; change++) {
      version = (await service.putLayer('fleet', { values: { app: { change } }, expectedVersion: version }, 'user:a')).version;
      for (let i = 0; i < 200 / DEFAULT_SLICE_BUDGET_MS && slices.queued > 0; i++) await slices.step();
    }
    expect([...received.values()].every((list) => list.length > 0)).toBe(true);
    while (slices.queued > 0) await slices.step();
    await settle();
    expect([...received.values()].every((list) => list.at(-1)?.version === version)).toBe(true);
  });

  it('keeps a tag change made mid-pass instead of overwriting it with the config of the old tags', async () => {
    const slices = steppedSlices();
    const { service, events, received, repo } = await fleet(1_000, { defer: slices.defer, clock: tickingClock().clock });
    await service.putLayer('group:s1', { selector: { site: 's1' }, values: { app: { site: 'one' } }, expectedVersion: 0 }, 'user:a');
    await slices.step();
    // The last device (site s3) moves to s1 before the pass reaches it.
    const moved = 'dev_00999';
    expect(received.get(moved)).toEqual([]);
    events.emit({ type: 'device.upsert', device: { id: moved, name: 'robot-999', status: 'active', tags: { site: 's1' }, facts: null, createdAt: 0, online: true, lastSeen: null } });
    while (slices.queued > 0) await slices.step();
    await settle();
    expect(received.get(moved)).toEqual([{ version: 1, config: { app: { site: 'one' } } }]);
    expect((await repo.deviceState(moved))?.desiredVersion).toBe(1);
  });

  it('shows a device the pass has not reached at the new version, and status waits for the pass', async () => {
    const slices = steppedSlices();
    const { service, delivery, received } = await fleet(1_000, { defer: slices.defer, clock: tickingClock().clock });
    const layer = await service.putLayer('fleet', { values: { app: { mode: 'debug' } }, expectedVersion: 0 }, 'user:a');
    const effective = await delivery.effective('dev_00500');
    expect(effective).toMatchObject({ version: layer.version, config: { app: { mode: 'debug' } } });
    expect(received.get('dev_00500')).toEqual([{ version: layer.version, config: { app: { mode: 'debug' } } }]);

    let answered = false;
    const status = delivery.fleetStatus().then((s) => {
      answered = true;
      return s;
    });
    await settle();
    expect(answered).toBe(false);
    while (slices.queued > 0) await slices.step();
    const devices = (await status).devices;
    expect(devices.every((d) => d.desiredVersion === layer.version)).toBe(true);
    // Brought up to date early, it was not sent the same config a second time.
    expect(received.get('dev_00500')).toHaveLength(1);
  });

  it('finishes at the next start a change whose pass a crash cut short', async () => {
    const crashed = steppedSlices();
    const before = await fleet(500, { defer: crashed.defer, clock: tickingClock().clock });
    const layer = await before.service.putLayer('fleet', { values: { app: { n: 2 } }, expectedVersion: 0 }, 'user:a');
    // One slice reads what is stored, the next visits the first devices.
    await crashed.step();
    await crashed.step();
    const written = (await before.repo.deviceStates()).length;
    expect(written).toBeGreaterThan(0);
    expect(written).toBeLessThan(500);
    // The process dies here; on the next start, delivery refreshes once before any device connects.
    const after = await fleet(500, { db: before.db });
    after.delivery.refreshAll();
    const status = await after.delivery.fleetStatus();
    expect(status.devices.every((d) => d.desiredVersion === layer.version)).toBe(true);
  });

  it('keeps at most the cap of applies in flight fleet-wide; each answer sends the next, and every device gets exactly one', async () => {
    const count = DEFAULT_MAX_APPLIES_IN_FLIGHT * 2 + 50;
    const { service, delivery, held, received, pushes } = await fleet(count, { holdAnswers: true });
    await service.putLayer('fleet', { values: { app: { color: 'blue' } }, expectedVersion: 0 }, 'user:a');
    await delivery.idle(10_000);
    await settle();
    expect(pushes()).toBe(DEFAULT_MAX_APPLIES_IN_FLIGHT);
    // One answer frees one slot; the queued device after it goes out with the config its slice computed.
    held.shift()?.();
    await quiesce(pushes);
    expect(pushes()).toBe(DEFAULT_MAX_APPLIES_IN_FLIGHT + 1);
    while (held.length > 0) {
      for (const answer of held.splice(0)) answer();
      await quiesce(pushes);
    }
    expect(pushes()).toBe(count);
    expect([...received.values()].every((list) => list.length === 1 && list[0]?.version === 1)).toBe(true);
  });

  it('gives each device the config of its own layers, though a pass merges once per distinct set of applying layers', async () => {
    const { service, delivery, received, entries } = await fleet(40);
    await service.putLayer('group:s1', { selector: { site: 's1' }, values: { app: { site: 'one' } }, expectedVersion: 0 }, 'user:a');
    await service.putLayer('group:s2', { selector: { site: 's2' }, values: { app: { site: 'two', extra: 2 } }, expectedVersion: 0 }, 'user:a');
    await service.putLayer('fleet', { values: { app: { color: 'blue' } }, expectedVersion: 0 }, 'user:a');
    await delivery.idle(10_000);
    for (let turn = 0; turn < 100 && [...received.values()].some((list) => list.at(-1)?.config.app === undefined || !('color' in (list.at(-1)?.config.app as object))); turn++) await settle();
    for (const entry of entries) {
      const expected = { color: 'blue', ...(entry.tags.site === 's1' ? { site: 'one' } : entry.tags.site === 's2' ? { site: 'two', extra: 2 } : {}) };
      expect(received.get(entry.id)?.at(-1)?.config.app).toEqual(expected);
    }
  });

  it('writes the reports that arrive together in one transaction, not one each', async () => {
    const { service, delivery, repo } = await fleet(2_000);
    const writes = vi.spyOn(repo, 'setReported');
    const layer = await service.putLayer('fleet', { values: { app: { n: 3 } }, expectedVersion: 0 }, 'user:a');
    await delivery.idle(30_000);
    // The pass is done; the applies go out a capped number at a time, each answer sending the next.
    const allApplied = async () => (await delivery.fleetStatus()).devices.every((d) => d.state === 'applied' && d.reported?.version === layer.version);
    for (let turn = 0; turn < 1_000 && !(await allApplied()); turn++) await settle();
    expect(await allApplied()).toBe(true);
    expect(writes.mock.calls.length).toBeLessThan(2_000 / 10);
    // A burst larger than one write is spread over turns of the event loop.
    expect(Math.max(...writes.mock.calls.map(([reports]) => reports.length))).toBeLessThanOrEqual(500);
  });

  it('on the real event loop, the request returns before any device is visited and the pass completes', async () => {
    const { service, delivery, received, pushes } = await fleet(3_000);
    const layer = await service.putLayer('fleet', { values: { app: { n: 1 } }, expectedVersion: 0 }, 'user:a');
    expect(pushes()).toBe(0);
    await delivery.idle(30_000);
    await quiesce(pushes);
    expect(delivery.refreshing).toBe(false);
    expect([...received.values()].every((list) => list.length === 1 && list[0]?.version === layer.version)).toBe(true);
  });
});
