import Database from 'better-sqlite3';
import forge from 'node-forge';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ConsoleServerMessage, DeviceFacts, User } from '../../protocol/index.js';
import { AuditLog } from '../audit/audit-log.js';
import { storesOnSqlite } from '../store/open-store.js';
import type { Stores } from '../store/stores.js';
import { scopeConsoleMessage } from '../auth/console-scope.js';
import { DeviceAccess } from '../auth/device-access.js';
import { EnrolmentService } from '../enrol/enrolment.js';
import { TokenService } from '../enrol/tokens.js';
import { createCa, type CertifiedKey } from '../pki/ca.js';
import { generateRsaKeyPair, type RsaKeyPairPem } from '../pki/keys.js';
import { migrate } from '../store/sqlite/db.js';
import { MAIN_MIGRATIONS } from '../store/migrations.js';
import { DeviceDirectory, type DeviceEntry } from './device-directory.js';
import { DeviceService } from './device-service.js';
import { FleetEvents } from './fleet-events.js';
import { Presence } from './presence.js';

const FACTS: DeviceFacts = { hostname: 'h', platform: 'linux', arch: 'x64', release: '6', cpus: 4, memoryBytes: 1024, agentVersion: '1' };

/** Counts every call into the device store, so a test can show what reached it. */
function counting<T extends object>(target: T, calls = new Map<string, number>()): { repo: T; calls: Map<string, number> } {
  const repo = new Proxy(target, {
    get(object, key, receiver) {
      const value: unknown = Reflect.get(object, key, receiver);
      if (typeof value !== 'function' || typeof key !== 'string') return value;
      return (...args: unknown[]) => {
        calls.set(key, (calls.get(key) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(object, args);
      };
    },
  });
  return { repo, calls };
}

async function fleet(seed: number) {
  const db = new Database(':memory:');
  migrate(db, MAIN_MIGRATIONS);
  const plain = storesOnSqlite(db);
  const { repo, calls } = counting(plain.devices);
  // Services see the counting store, also inside transactions.
  const stores: Stores = { ...plain, devices: repo, transaction: (fn) => plain.transaction((tx) => fn({ ...tx, devices: counting(tx.devices, calls).repo })) };
  const events = new FleetEvents();
  const presence = new Presence(repo, events);
  const audit = new AuditLog(stores);
  const devices = new DeviceService({ stores, presence, events, audit, connections: [] });
  const tokenId = (await new TokenService(stores, audit).create({}, 'test')).id;
  for (let i = 0; i < seed; i++) {
    await repo.insert({
      id: `dev_${i}`, name: `robot-${i}`, status: 'active', certFingerprint: 'x', telemetryTokenHash: Buffer.from(`t${i}`),
      tags: { site: i % 2 === 0 ? 'berlin' : 'paris' }, facts: null, tokenId, createdAt: i,
    });
  }
  return { db, stores, repo, calls, events, presence, audit, devices };
}

let ca: CertifiedKey;
let deviceKey: RsaKeyPairPem;
beforeAll(async () => {
  [ca, deviceKey] = await Promise.all([createCa(), generateRsaKeyPair(2048)]);
});

function csr(): string {
  const request = forge.pki.createCertificationRequest();
  request.publicKey = forge.pki.publicKeyFromPem(deviceKey.publicKeyPem);
  request.setSubject([{ name: 'commonName', value: 'device' }]);
  request.sign(forge.pki.privateKeyFromPem(deviceKey.privateKeyPem), forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(request);
}

describe('DeviceDirectory', () => {
  it('loads every device once and answers names, tags and status from memory', async () => {
    const { repo, calls, events } = await fleet(3);
    const directory = await DeviceDirectory.load(repo, events);
    expect(calls.get('list')).toBe(1);
    expect(directory.size).toBe(3);
    expect(directory.get('dev_1')).toEqual({ id: 'dev_1', name: 'robot-1', status: 'active', tags: { site: 'paris' }, facts: null, createdAt: 1, lastSeen: null });
    expect(directory.nameOf('dev_2')).toBe('robot-2');
    expect(directory.tagsOf('dev_0')).toEqual({ site: 'berlin' });
    expect(directory.tagsOf('dev_nowhere')).toBeUndefined();
    expect(directory.has('dev_nowhere')).toBe(false);
  });

  it('follows enrolment, tag edits, approval, revocation, facts and removal', async () => {
    const { stores, repo, calls, events, presence, audit, devices } = await fleet(1);
    const directory = await DeviceDirectory.load(repo, events);
    const tokens = new TokenService(stores, audit);
    const enrolment = new EnrolmentService({ stores, tokens, presence, events, audit, ca });

    const token = await tokens.create({ tags: { site: 'lyon' }, requireApproval: true }, 'test');
    const { deviceId } = await enrolment.register({ token: token.token, csr: csr(), name: 'newcomer', facts: FACTS });
    expect(directory.get(deviceId)).toMatchObject({ id: deviceId, name: 'newcomer', status: 'pending', tags: { site: 'lyon' }, facts: FACTS });

    await devices.approve(deviceId, 'user:a');
    expect(directory.get(deviceId)?.status).toBe('active');

    await devices.editTags([deviceId, 'dev_0'], { set: { role: 'edge' }, remove: ['site'] }, 'user:a');
    expect(directory.tagsOf(deviceId)).toEqual({ role: 'edge' });
    expect(directory.tagsOf('dev_0')).toEqual({ role: 'edge' });

    await devices.revoke('dev_0', 'user:a');
    expect(directory.get('dev_0')?.status).toBe('revoked');
    await devices.revokeMany([deviceId], 'user:a');
    expect(directory.get(deviceId)?.status).toBe('revoked');

    // A change of facts is announced like every other change of a record; the same facts again are not.
    const upserts: string[] = [];
    events.subscribe((event) => event.type === 'device.upsert' && upserts.push(event.device.id));
    await devices.recordFacts('dev_0', FACTS);
    await devices.recordFacts('dev_0', FACTS);
    expect(upserts).toEqual(['dev_0']);
    expect((await repo.find('dev_0'))?.facts).toEqual(FACTS);
    expect(directory.get('dev_0')?.facts).toEqual(FACTS);

    presence.connected('dev_0');
    expect(directory.get('dev_0')).toMatchObject({ id: 'dev_0', name: 'robot-0', status: 'revoked', tags: { role: 'edge' } });
    expect(directory.get('dev_0')?.lastSeen).toEqual(expect.any(Number));

    events.emit({ type: 'device.removed', id: 'dev_0' });
    expect(directory.has('dev_0')).toBe(false);
    // Everything above came from events: the store was listed once, at load.
    expect(calls.get('list')).toBe(1);
  });

  it('keeps a change that is published while the list is still loading', async () => {
    const events = new FleetEvents();
    let release: (entries: DeviceEntry[]) => void = () => undefined;
    const loading = DeviceDirectory.load({ list: () => new Promise<DeviceEntry[]>((resolve) => (release = resolve)) }, events);
    events.emit({ type: 'device.upsert', device: { id: 'dev_a', name: 'renamed', status: 'active', tags: { site: 'new' }, facts: null, createdAt: 0, online: false, lastSeen: null } });
    release([{ id: 'dev_a', name: 'old', status: 'active', tags: { site: 'old' } }]);
    const directory = await loading;
    expect(directory.get('dev_a')).toMatchObject({ name: 'renamed', tags: { site: 'new' } });
  });

  it('stops following events once closed', async () => {
    const { repo, events } = await fleet(1);
    const directory = await DeviceDirectory.load(repo, events);
    directory.close();
    events.emit({ type: 'device.removed', id: 'dev_0' });
    expect(directory.has('dev_0')).toBe(true);
  });

  it('scopes a stream of pushed messages without reading the store per message', async () => {
    const { repo, calls, events } = await fleet(100);
    calls.clear();
    const directory = await DeviceDirectory.load(repo, events);
    const access = new DeviceAccess(directory);
    const berlin: User = { id: 2, username: 'b', role: 'viewer', scope: { site: 'berlin' } };
    const readsAfterLoad = [...calls.entries()];

    let delivered = 0;
    const latest: ConsoleServerMessage = {
      type: 'metrics.latest',
      devices: Object.fromEntries(directory.ids().map((id) => [id, { cpu: { ts: 1, value: 1 } }])),
    };
    for (let i = 0; i < 1_000; i++) {
      const samples: ConsoleServerMessage = { type: 'metrics.samples', deviceId: `dev_${i % 100}`, samples: [{ name: 'cpu', ts: i, value: 1 }] };
      if (scopeConsoleMessage(access, berlin, samples)) delivered++;
    }
    const scoped = scopeConsoleMessage(access, berlin, latest);
    expect(delivered).toBe(500);
    expect(scoped?.type === 'metrics.latest' && Object.keys(scoped.devices)).toHaveLength(50);
    expect([...calls.entries()]).toEqual(readsAfterLoad);
    expect(calls.get('find')).toBeUndefined();
  });
});
