import { pino } from 'pino';
import { expect, it } from 'vitest';
import { ConfigApplyParams, type ConfigReport } from '../../protocol/index.js';
import { AuditLog } from '../../backend/audit/audit-log.js';
import { ConfigDelivery } from '../../backend/config/config-delivery.js';
import { ConfigService } from '../../backend/config/config-service.js';
import type { StoredConfigLayer } from '../../backend/config/config-store.js';
import { SchemaValidator } from '../../backend/config/schema-validator.js';
import { DeviceDirectory, type DeviceEntry } from '../../backend/devices/device-directory.js';
import { LocalDeviceRouter } from '../../backend/devices/device-router.js';
import { FleetEvents } from '../../backend/devices/fleet-events.js';
import { codeOf, describeEachEngine } from './engines.js';


function groupLayer(id: string, version: number, values: StoredConfigLayer['values'] = {}): StoredConfigLayer {
  return { id, kind: 'group', selector: { site: id }, priority: 0, values, version, updatedAt: version, updatedBy: 'test' };
}

describeEachEngine('config store', (store) => {
  async function setup() {
    const { stores } = store();
    let ts = 1_000;
    const now = () => ts++;
    const audit = new AuditLog(stores, now);
    let changes = 0;
    const config = await ConfigService.create({ stores, validator: new SchemaValidator(), audit, deviceExists: () => true, onChange: () => changes++, now });
    const auditOf = async (action: string) => stores.audit.query({ action }, 100);
    return { stores, config, auditOf, changes: () => changes };
  }

  // On PostgreSQL each write runs on its own pooled connection, racing for the same row.
  it('lets exactly one of concurrent edits from the same version through, with one revision and one audit entry', async () => {
    const { stores, config, auditOf } = await setup();
    const edit = (expectedVersion: number, n: number) =>
      codeOf(config.putLayer('group:a', { selector: { site: 'a' }, values: { app: { n } }, expectedVersion, message: `edit ${n}` }, `user:u${n}`));

    // A new layer (insert if absent), then an existing one (update where the version still matches).
    for (const round of ['new', 'existing']) {
      const expected = round === 'new' ? 0 : (await config.layer('group:a')).version;
      const revisionsBefore = (await stores.config.revisions({ limit: 500 })).length;
      const auditBefore = (await auditOf('config.layer.put')).length;
      const codes = await Promise.all(Array.from({ length: 8 }, (_, n) => edit(expected, n)));
      expect(codes.filter((c) => c === 'none')).toHaveLength(1);
      expect(codes.filter((c) => c === 'CONFIG_VERSION_CONFLICT')).toHaveLength(7);
      const winner = codes.indexOf('none');
      const layer = await config.layer('group:a');
      expect(layer).toMatchObject({ values: { app: { n: winner } }, updatedBy: `user:u${winner}` });
      const revisions = await stores.config.revisions({ limit: 500 });
      expect(revisions).toHaveLength(revisionsBefore + 1);
      expect(revisions[0]).toMatchObject({ version: layer.version, author: `user:u${winner}`, message: `edit ${winner}`, action: 'layer.put' });
      const entries = await auditOf('config.layer.put');
      expect(entries).toHaveLength(auditBefore + 1);
      expect(entries[0]).toMatchObject({ actor: `user:u${winner}`, target: 'group:a', details: { version: layer.version } });
    }
  });

  it('compares and sets in the store itself: of concurrent writes from one version exactly one lands', async () => {
    const { stores } = await setup();
    const config = stores.config;
    const created = await Promise.all(Array.from({ length: 8 }, (_, n) => config.saveLayer(groupLayer('group:x', 10 + n), 0)));
    expect(created.filter(Boolean)).toHaveLength(1);
    const first = 10 + created.indexOf(true);
    expect((await config.layer('group:x'))?.version).toBe(first);
    const updated = await Promise.all(Array.from({ length: 8 }, (_, n) => config.saveLayer(groupLayer('group:x', 20 + n), first)));
    expect(updated.filter(Boolean)).toHaveLength(1);
    const second = 20 + updated.indexOf(true);
    expect(await config.saveLayer(groupLayer('group:x', 30), first)).toBe(false);
    expect(await config.deleteLayer('group:x', first)).toBe(false);
    const deleted = await Promise.all(Array.from({ length: 4 }, () => config.deleteLayer('group:x', second)));
    expect(deleted.filter(Boolean)).toHaveLength(1);
    expect(await config.layer('group:x')).toBeUndefined();

    expect(await config.saveSchema({ namespace: 'net', schema: { type: 'object' }, version: 5 }, 0)).toBe(true);
    expect(await config.saveSchema({ namespace: 'net', schema: { type: 'array' }, version: 6 }, 0)).toBe(false);
    expect(await config.saveSchema({ namespace: 'net', schema: { type: 'array' }, version: 6 }, 4)).toBe(false);
    expect(await config.saveSchema({ namespace: 'net', schema: { type: 'array' }, version: 6 }, 5)).toBe(true);
    expect(await config.schemas()).toEqual([{ namespace: 'net', schema: { type: 'array' }, version: 6 }]);
  });

  it('numbers revisions uniquely and in commit order: no reader sees a number before a lower one appears', async () => {
    const { stores, config } = await setup();
    const seen: Array<{ max: number; versions: Set<number> }> = [];
    let writing = true;
    const reader = (async () => {
      while (writing) {
        const versions = (await stores.config.revisions({ limit: 500 })).map((r) => r.version);
        seen.push({ max: Math.max(0, ...versions), versions: new Set(versions) });
      }
    })();
    const layers = await Promise.all(Array.from({ length: 24 }, (_, i) =>
      config.putLayer(`group:g${i}`, { selector: { g: String(i) }, values: { app: { i } }, expectedVersion: 0 }, 'user:x')));
    writing = false;
    await reader;
    const versions = layers.map((l) => l.version);
    expect(new Set(versions).size).toBe(24);
    const final = (await stores.config.revisions({ limit: 500 })).map((r) => r.version);
    expect([...final].sort((a, b) => a - b)).toEqual([...versions].sort((a, b) => a - b));
    expect(seen.length).toBeGreaterThan(0);
    for (const { max, versions: visible } of seen) {
      for (const v of final) if (v <= max) expect(visible.has(v)).toBe(true);
    }
    expect((await stores.config.snapshot()).version).toBe(Math.max(...versions));
  });

  it('refuses a schema that a concurrently written layer breaks, or the layer: never both', async () => {
    const { stores, config } = await setup();
    // Several rounds, each a fresh namespace and layer, so the two writes really overlap in some.
    for (let round = 0; round < 8; round++) {
      const namespace = `ns${round}`;
      const loose = await config.putSchema(namespace, { schema: { type: 'object' }, expectedVersion: 0 }, 'user:x');
      const revisionsBefore = (await stores.config.revisions({ limit: 500 })).length;
      const codes = await Promise.all([
        codeOf(config.putLayer(`group:g${round}`, { selector: { g: String(round) }, values: { [namespace]: { port: 'eighty' } }, expectedVersion: 0 }, 'user:x')),
        codeOf(config.putSchema(namespace, { schema: { type: 'object', properties: { port: { type: 'integer' } } }, expectedVersion: loose.version }, 'user:x')),
      ]);
      expect(codes.filter((c) => c === 'none')).toHaveLength(1);
      expect(codes).toContain('CONFIG_SCHEMA_VIOLATION');
      expect(await stores.config.revisions({ limit: 500 })).toHaveLength(revisionsBefore + 1);
    }
  });

  it('deletes and rolls back as new revisions, with history, diff and content at each version', async () => {
    const { stores, config, auditOf, changes } = await setup();
    const v1 = await config.putLayer('group:a', { selector: { site: 'a' }, priority: 3, values: { app: { c: 'blue' } }, expectedVersion: 0, message: 'blue' }, 'user:x');
    const v2 = await config.putLayer('group:a', { values: { app: { c: 'red' } }, expectedVersion: v1.version, message: 'red' }, 'user:y');
    expect(v2).toMatchObject({ selector: { site: 'a' }, priority: 3, kind: 'group' });
    expect(await codeOf(config.deleteLayer('group:a', v1.version, 'user:x'))).toBe('CONFIG_VERSION_CONFLICT');
    expect(await codeOf(config.deleteLayer('fleet', 0, 'user:x'))).toBe('BAD_REQUEST');
    expect(await codeOf(config.deleteLayer('group:none', 0, 'user:x'))).toBe('NOT_FOUND');
    const deleted = await config.deleteLayer('group:a', v2.version, 'user:x', 'gone');
    expect(deleted.version).toBeGreaterThan(v2.version);
    expect(await codeOf(config.layer('group:a'))).toBe('NOT_FOUND');
    expect(await stores.config.contentAt('group:a', deleted.version)).toBeNull();
    expect(await stores.config.contentAt('group:a', v1.version)).toEqual({ selector: { site: 'a' }, priority: 3, values: { app: { c: 'blue' } } });

    const restored = await config.rollback('group:a', { toVersion: v2.version, expectedVersion: 0 }, 'user:z');
    expect(restored).toMatchObject({ version: deleted.version + 1, values: { app: { c: 'red' } }, selector: { site: 'a' }, priority: 3, updatedBy: 'user:z' });
    expect(await codeOf(config.rollback('group:a', { toVersion: v1.version, expectedVersion: v2.version }, 'user:z'))).toBe('CONFIG_VERSION_CONFLICT');
    expect(await config.rollback('group:a', { toVersion: 0, expectedVersion: restored?.version ?? -1 }, 'user:z')).toBeNull();
    expect(await codeOf(config.layer('group:a'))).toBe('NOT_FOUND');

    const history = (await config.history({ target: 'group:a' })).revisions;
    expect(history.map((r) => `${r.action} ${r.author}`)).toEqual(['layer.rollback user:z', 'layer.rollback user:z', 'layer.delete user:x', 'layer.put user:y', 'layer.put user:x']);
    expect((await config.history({ target: 'group:a', before: deleted.version, limit: 1 })).revisions.map((r) => r.version)).toEqual([v2.version]);
    const revision = await config.revision(deleted.version);
    expect(revision).toMatchObject({ action: 'layer.delete', message: 'gone', before: { values: { app: { c: 'red' } } }, after: null });
    expect(await codeOf(config.revision(9_999))).toBe('NOT_FOUND');
    expect((await config.diff('group:a', v1.version, deleted.version)).changes).toEqual(expect.arrayContaining([{ path: '/values/app', kind: 'removed', before: { c: 'blue' } }]));
    expect((await auditOf('config.layer.rollback')).map((e) => e.details.toVersion)).toEqual([0, v2.version]);
    expect(await auditOf('config.layer.delete')).toHaveLength(1);
    expect(changes()).toBe(5);
  });

  it('puts schemas with versions, refuses one a stored layer breaks, and validates layers against them', async () => {
    const { stores, config, auditOf } = await setup();
    const net = await config.putSchema('net', { schema: { type: 'object', properties: { port: { type: 'integer' } } }, expectedVersion: 0, message: 'ports' }, 'user:admin');
    expect(await codeOf(config.putSchema('net', { schema: { type: 'object' }, expectedVersion: 0 }, 'user:admin'))).toBe('CONFIG_VERSION_CONFLICT');
    expect(await codeOf(config.putSchema('agent', { schema: {}, expectedVersion: 0 }, 'user:admin'))).toBe('CONFIG_NAMESPACE_RESERVED');
    await config.putSchema('app', { schema: { type: 'object' }, expectedVersion: 0 }, 'user:admin');
    expect((await config.schemas()).map((s) => `${s.namespace}@${s.version}${s.builtIn ? '*' : ''}`)).toEqual(['agent@0*', 'app@2', `net@${net.version}`]);
    expect(await codeOf(config.putLayer('fleet', { values: { net: { port: 'x' } }, expectedVersion: 0 }, 'user:x'))).toBe('CONFIG_SCHEMA_VIOLATION');
    const fleet = await config.putLayer('fleet', { values: { net: { port: 80 } }, expectedVersion: 0 }, 'user:x');
    const tighter = { type: 'object', properties: { port: { type: 'integer', minimum: 1024 } } };
    expect(await codeOf(config.putSchema('net', { schema: tighter, expectedVersion: net.version }, 'user:admin'))).toBe('CONFIG_SCHEMA_VIOLATION');
    const looser = await config.putSchema('net', { schema: { type: 'object' }, expectedVersion: net.version, message: 'anything' }, 'user:admin');
    expect(looser.version).toBeGreaterThan(fleet.version);
    expect(await stores.config.revision(looser.version)).toMatchObject({ action: 'schema.put', target: 'schema:net', before: { properties: { port: { type: 'integer' } } }, after: { type: 'object' } });
    expect((await config.diff('schema:net', net.version, looser.version)).changes.length).toBeGreaterThan(0);
    expect((await auditOf('config.schema.put')).map((e) => e.target)).toEqual(['schema:net', 'schema:app', 'schema:net']);
  });

  it('reads the layers and the newest version together', async () => {
    const { stores, config } = await setup();
    expect(await stores.config.snapshot()).toEqual({ version: 0, layers: [] });
    const a = await config.putLayer('group:a', { selector: { site: 'a' }, values: { app: { a: 1 } }, expectedVersion: 0 }, 'user:x');
    const fleet = await config.putLayer('fleet', { values: { app: { f: 1 } }, expectedVersion: 0 }, 'user:x');
    await config.putSchema('net', { schema: { type: 'object' }, expectedVersion: 0 }, 'user:x');
    const snapshot = await stores.config.snapshot();
    expect(snapshot.version).toBe(fleet.version + 1);
    expect(snapshot.layers).toEqual([
      { id: 'fleet', kind: 'fleet', selector: {}, priority: 0, values: { app: { f: 1 } }, version: fleet.version, updatedAt: fleet.updatedAt, updatedBy: 'user:x' },
      { id: 'group:a', kind: 'group', selector: { site: 'a' }, priority: 0, values: { app: { a: 1 } }, version: a.version, updatedAt: a.updatedAt, updatedBy: 'user:x' },
    ]);
    expect(await stores.config.layers()).toEqual(snapshot.layers);
  });

  it('stores desired and reported state per device, many at once', async () => {
    const { stores } = await setup();
    const config = stores.config;
    const ids = Array.from({ length: 1_200 }, (_, i) => `dev_${String(i).padStart(5, '0')}`);
    await config.setDesired(ids.map((deviceId) => ({ deviceId, version: 1, hash: `h1-${deviceId}` })));
    // The same device twice in one batch: the last entry counts.
    await config.setDesired([{ deviceId: ids[0] ?? '', version: 2, hash: 'old' }, { deviceId: ids[0] ?? '', version: 3, hash: 'h3' }]);
    expect(await config.deviceState(ids[0] ?? '')).toEqual({ deviceId: ids[0], desiredVersion: 3, desiredHash: 'h3', reported: null });
    // Read a slice of the fleet at a time: more ids than one statement takes, and one never stored.
    const hashes = await config.desiredHashes([...ids.slice(0, 700), 'dev_unknown']);
    expect(hashes.size).toBe(700);
    expect(hashes.get(ids[0] ?? '')).toBe('h3');
    expect(hashes.get(ids[699] ?? '')).toBe(`h1-${ids[699]}`);
    expect(hashes.has('dev_unknown')).toBe(false);
    expect(await config.desiredHashes([])).toEqual(new Map());
    await config.setReported([
      ...ids.slice(0, 700).map((deviceId) => ({ deviceId, version: 1, status: 'applied' as const, error: null, at: 5_000 })),
      { deviceId: ids[1] ?? '', version: 1, status: 'failed', error: 'hook exited 7', at: 6_000 },
      // No desired state yet: nothing to report against.
      { deviceId: 'dev_unknown', version: 1, status: 'applied', error: null, at: 5_000 },
    ]);
    expect(await config.deviceState(ids[1] ?? '')).toEqual({ deviceId: ids[1], desiredVersion: 1, desiredHash: `h1-${ids[1]}`, reported: { version: 1, status: 'failed', error: 'hook exited 7', at: 6_000 } });
    expect(await config.deviceState('dev_unknown')).toBeUndefined();
    const states = await config.deviceStates();
    expect(states).toHaveLength(1_200);
    expect(states.filter((s) => s.reported?.status === 'applied')).toHaveLength(699);
    expect(states.filter((s) => s.reported === null)).toHaveLength(500);
    // A new desired version leaves the last report in place: the status shows it as not yet current.
    await config.setDesired([{ deviceId: ids[2] ?? '', version: 4, hash: 'h4' }]);
    expect(await config.deviceState(ids[2] ?? '')).toMatchObject({ desiredVersion: 4, reported: { version: 1, status: 'applied' } });
  });

  it('delivers a change to every device and records what each reported', async () => {
    const { stores, config } = await setup();
    const events = new FleetEvents();
    const entries: DeviceEntry[] = Array.from({ length: 60 }, (_, i) => ({ id: `dev_${String(i).padStart(5, '0')}`, name: `robot-${i}`, status: 'active', tags: { site: i % 2 === 0 ? 'a' : 'b' } }));
    const directory = await DeviceDirectory.load({ list: () => entries }, events);
    const router = new LocalDeviceRouter();
    const received = new Map<string, number[]>();
    for (const entry of entries) {
      received.set(entry.id, []);
      router.attach(entry.id, {
        request: (_method, params) => {
          const parsed = ConfigApplyParams.parse(params);
          received.get(entry.id)?.push(parsed.version);
          const report: ConfigReport = { version: parsed.version, status: entry.tags.site === 'a' ? 'applied' : 'failed', error: entry.tags.site === 'a' ? null : 'no' };
          return Promise.resolve(report);
        },
        emit: () => undefined,
        close: () => undefined,
      });
    }
    const delivery = new ConfigDelivery({ store: stores.config, devices: directory, router, log: pino({ level: 'silent' }) });
    try {
      const layer = await config.putLayer('group:a', { selector: { site: 'a' }, values: { app: { on: true } }, expectedVersion: 0 }, 'user:x');
      delivery.refreshAll();
      await delivery.idle(20_000);
      const siteA = (id: string) => Number(id.slice(4)) % 2 === 0;
      const first = await delivery.fleetStatus();
      expect(first.devices).toHaveLength(60);
      for (const d of first.devices) {
        expect(d.desiredVersion).toBe(layer.version);
        expect(d).toMatchObject(siteA(d.deviceId) ? { state: 'applied', drift: false } : { state: 'failed', drift: true, reported: { version: layer.version, error: 'no' } });
      }
      expect([...received.values()].every((list) => list.length === 1)).toBe(true);

      // A change to site b's layer: site a's effective config is the same, so nothing is stored or sent for it.
      const b = await config.putLayer('group:b', { selector: { site: 'b' }, values: { app: { on: false } }, expectedVersion: 0 }, 'user:x');
      delivery.refreshAll();
      await delivery.idle(20_000);
      const second = await delivery.fleetStatus();
      for (const d of second.devices) expect(d.desiredVersion).toBe(siteA(d.deviceId) ? layer.version : b.version);
      for (const [id, list] of received) expect(list).toEqual(siteA(id) ? [layer.version] : [layer.version, b.version]);
      expect(await delivery.effective('dev_00000')).toMatchObject({ version: layer.version, config: { app: { on: true } }, layers: ['group:a'] });
    } finally {
      await delivery.close();
      directory.close();
    }
  });
});
