import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { pino } from 'pino';
import { beforeAll, expect, it } from 'vitest';
import { ClientHandshake } from '../../channel/handshake.js';
import { caPin } from '../../channel/pin.js';
import { TetherError, type DeviceFacts, type DeviceStatus, type ErrorCode } from '../../protocol/index.js';
import { ControlGateway } from '../../backend/agents/control-gateway.js';
import { AuditLog } from '../../backend/audit/audit-log.js';
import { hashSecret } from '../../backend/auth/secrets.js';
import { LocalDeviceRouter } from '../../backend/devices/device-router.js';
import { DeviceService } from '../../backend/devices/device-service.js';
import type { DeviceStore, NewDevice } from '../../backend/devices/device-store.js';
import { FleetEvents } from '../../backend/devices/fleet-events.js';
import { Presence } from '../../backend/devices/presence.js';
import { newDeviceId } from '../../backend/enrol/enrolment.js';
import { createCa, type CertifiedKey } from '../../backend/pki/ca.js';
import { issueDeviceCert, issueIdentityCert } from '../../backend/pki/issue.js';
import { createDeviceKeyAndCsr } from '../../agent/enrol/csr.js';
import type { Stores } from '../../backend/store/stores.js';
import type { IngestQueue } from '../../backend/telemetry/ingest-queue.js';
import { TelemetryGateway } from '../../backend/telemetry/telemetry-gateway.js';
import { describeEachEngine } from './engines.js';

const FACTS: DeviceFacts = { hostname: 'h', platform: 'linux', arch: 'x64', release: '6', cpus: 4, memoryBytes: 8 * 1024 ** 3, agentVersion: '1.2.3' };
const log = pino({ level: 'silent' });

let ca: CertifiedKey;
let identity: CertifiedKey;
/** The device's key and CSR, made as the agent makes them at enrolment. */
let deviceKey: { keyPem: string; csrPem: string };
beforeAll(async () => {
  ca = await createCa();
  [identity, deviceKey] = await Promise.all([issueIdentityCert(ca), createDeviceKeyAndCsr()]);
});
const csr = (): string => deviceKey.csrPem;


/** A registration token row: devices reference the token they enrolled with. */
async function tokenId(stores: Stores): Promise<string> {
  const id = `tok_${randomBytes(8).toString('hex')}`;
  await stores.tokens.insert({ id, secretHash: randomBytes(32), createdAt: 1, expiresAt: null, maxUses: null, tags: {}, requireApproval: false, createdBy: 'test' });
  return id;
}

function newDevice(token: string, over: Partial<NewDevice> = {}): NewDevice {
  const id = over.id ?? newDeviceId();
  return {
    id, name: id, status: 'active', certFingerprint: 'sha256:x', telemetryTokenHash: randomBytes(32), tags: {}, facts: null,
    tokenId: token, createdAt: 1_700_000_000_000, ...over,
  };
}

/** UTF-8 bytewise (name, id) order: SQLite's BINARY and PostgreSQL's "C" collation. */
function bytewise(a: { name: string; id: string }, b: { name: string; id: string }): number {
  return Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)) || Buffer.compare(Buffer.from(a.id), Buffer.from(b.id));
}

/** Lets `n` rounds of queued callbacks (and the I/O between them) run. */
async function ticks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await ticks(1);
  }
}

/** What the gateways use of a ws WebSocket: messages in, text and frames out, close with a code and reason. */
class FakeSocket extends EventEmitter {
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;
  readyState = 1;
  readonly sent: Array<string | Buffer> = [];
  closed: { code: number; reason: string } | null = null;

  send(data: string | Buffer): void {
    if (this.readyState === this.OPEN) this.sent.push(data);
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = { code, reason };
    this.readyState = this.CLOSED;
    // ws reports the close later, as a real socket does.
    setImmediate(() => this.emit('close', code, Buffer.from(reason)));
  }
}

/** A device store whose lookups can be held after their read: the read has happened, the answer not yet. */
function holdableLookups(devices: DeviceStore) {
  let hold: Promise<void> | null = null;
  let reads = 0;
  const after = async <T>(value: T): Promise<T> => {
    reads++;
    if (hold) await hold;
    return value;
  };
  return {
    store: {
      find: async (id: string) => after(await devices.find(id)),
      findByTelemetryHash: async (hash: Buffer) => after(await devices.findByTelemetryHash(hash)),
    },
    reads: () => reads,
    /** Holds every answer from now until the returned function is called. */
    hold(): () => void {
      let release = (): void => undefined;
      hold = new Promise<void>((resolve) => (release = resolve));
      return () => {
        hold = null;
        release();
      };
    },
  };
}

describeEachEngine('device store', (store) => {
  it('inserts and finds a device by id and by telemetry token hash', async () => {
    const { stores } = store();
    const token = await tokenId(stores);
    const hash = randomBytes(32);
    const device = newDevice(token, { name: 'robot', status: 'pending', telemetryTokenHash: hash, tags: { site: 'lyon', 'k=v': 'ü' }, facts: FACTS, certFingerprint: 'sha256:ab' });
    await stores.devices.insert(device);
    const expected = {
      id: device.id, name: 'robot', status: 'pending', certFingerprint: 'sha256:ab', tags: { site: 'lyon', 'k=v': 'ü' }, facts: FACTS,
      createdAt: 1_700_000_000_000, lastSeen: null,
    };
    expect(await stores.devices.find(device.id)).toEqual(expected);
    expect(await stores.devices.findByTelemetryHash(Buffer.from(hash))).toEqual(expected);
    expect(await stores.devices.find('dev_nothing')).toBeUndefined();
    expect(await stores.devices.findByTelemetryHash(randomBytes(32))).toBeUndefined();
    // A telemetry token hash belongs to one device.
    await expect(stores.devices.insert(newDevice(token, { telemetryTokenHash: hash }))).rejects.toThrow();
  });

  it('lists and pages in bytewise (name, id) order, the same on both engines', async () => {
    const { stores } = store();
    const token = await tokenId(stores);
    // Mixed case, accents, CJK, an astral character (after U+FFxx in UTF-8, before it in UTF-16), and equal names.
    const names = ['beta', 'Beta', 'alpha', 'Zeta', 'émile', 'Émile', 'zoë', 'zoe', '東京', 'Ａ', '🙂', 'a b', 'a-b', 'a', 'same', 'same', 'same'];
    const inserted = names.map((name, i) => newDevice(token, { id: `dev_${String(i).padStart(2, '0')}${'x'.repeat(20)}`, name }));
    for (const device of inserted) await stores.devices.insert(device);
    const expected = inserted.map(({ id, name }) => ({ id, name })).sort(bytewise);
    expect(expected.slice(0, 4).map((d) => d.name)).toEqual(['Beta', 'Zeta', 'a', 'a b']);
    expect(expected.slice(-3).map((d) => d.name)).toEqual(['東京', 'Ａ', '🙂']);

    expect((await stores.devices.list()).map(({ id, name }) => ({ id, name }))).toEqual(expected);
    expect((await stores.devices.page(null, -1)).map((d) => d.id)).toEqual(expected.map((d) => d.id));
    expect(await stores.devices.page(null, 0)).toEqual([]);
    for (const limit of [1, 3, 5]) {
      const seen: string[] = [];
      let after: { name: string; id: string } | null = null;
      for (;;) {
        const page = await stores.devices.page(after, limit);
        expect(page.length).toBeLessThanOrEqual(limit);
        seen.push(...page.map((d) => d.id));
        const last = page.at(-1);
        if (!last || page.length < limit) break;
        after = { name: last.name, id: last.id };
      }
      expect(seen).toEqual(expected.map((d) => d.id));
    }
    // A position that is no device (removed or renamed since) still continues right after where it sorts.
    const position = { name: 'Ze', id: 'dev_' };
    expect((await stores.devices.page(position, 2)).map((d) => d.name)).toEqual(['Zeta', 'a']);
  });

  it('sets a status unconditionally or only from the given statuses, and only one of 20 concurrent approvals wins', async () => {
    const { stores } = store();
    const token = await tokenId(stores);
    const device = newDevice(token, { status: 'pending' });
    await stores.devices.insert(device);
    expect(await stores.devices.setStatus(device.id, 'revoked', 5, ['active'])).toBeUndefined();
    expect((await stores.devices.find(device.id))?.status).toBe('pending');
    expect(await stores.devices.setStatus('dev_nothing', 'active', 5)).toBeUndefined();

    const results = await Promise.all(Array.from({ length: 20 }, () => stores.devices.setStatus(device.id, 'active', 6, ['pending'])));
    expect(results.filter((r) => r !== undefined)).toHaveLength(1);
    expect(results.find((r) => r !== undefined)).toMatchObject({ id: device.id, status: 'active' });

    expect(await stores.devices.setStatus(device.id, 'revoked', 7, ['pending', 'active'])).toMatchObject({ status: 'revoked' });
    expect(await stores.devices.setStatus(device.id, 'active', 8, ['pending', 'active'])).toBeUndefined();
    expect(await stores.devices.setStatus(device.id, 'pending', 9)).toMatchObject({ status: 'pending' });
  });

  it('sets tags and facts, and edits tag keys in one statement so concurrent edits of different keys all hold', async () => {
    const { stores } = store();
    const token = await tokenId(stores);
    const device = newDevice(token, { tags: { site: 'lyon', role: 'edge' } });
    await stores.devices.insert(device);
    await stores.devices.setFacts(device.id, FACTS);
    await stores.devices.setTags(device.id, { a: '1', b: '2' });
    expect(await stores.devices.find(device.id)).toMatchObject({ facts: FACTS, tags: { a: '1', b: '2' } });

    // Remove before set: a key in both ends up set; removing an absent key is no error.
    expect((await stores.devices.updateTags(device.id, { remove: ['a', 'b', 'nope'], set: { b: 'two', 'odd "key"': 'ü', 'x.y': '$' } }))?.tags)
      .toEqual({ b: 'two', 'odd "key"': 'ü', 'x.y': '$' });
    expect((await stores.devices.updateTags(device.id, {}))?.tags).toEqual({ b: 'two', 'odd "key"': 'ü', 'x.y': '$' });
    expect(await stores.devices.updateTags('dev_nothing', { set: { a: '1' } })).toBeUndefined();

    await Promise.all(Array.from({ length: 20 }, (_, i) => stores.devices.updateTags(device.id, { set: { [`k${i}`]: String(i) }, remove: ['b'] })));
    const tags = (await stores.devices.find(device.id))?.tags;
    expect(Object.keys(tags ?? {}).sort()).toEqual(['k0', 'k1', 'k10', 'k11', 'k12', 'k13', 'k14', 'k15', 'k16', 'k17', 'k18', 'k19', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8', 'k9', 'odd "key"', 'x.y']);
  });

  it('saves last-seen times in batches and never moves one backwards', async () => {
    const { stores } = store();
    const token = await tokenId(stores);
    const devices = Array.from({ length: 620 }, (_, i) => newDevice(token, { id: `dev_${String(i).padStart(4, '0')}${'x'.repeat(20)}` }));
    for (const device of devices) await stores.devices.insert(device);
    // More than one statement's slice (500), an unknown id, and times beyond 2^32.
    await stores.devices.saveLastSeen([...devices.map((d, i) => [d.id, 1_700_000_000_000 + i] as const), ['dev_nothing', 1]]);
    const first = await stores.devices.list();
    expect(first.map((d) => d.lastSeen)).toEqual(devices.map((_, i) => 1_700_000_000_000 + i));

    const [a, b] = devices;
    if (!a || !b) throw new Error('no devices');
    await stores.devices.saveLastSeen([[a.id, 5], [b.id, 1_800_000_000_000]]);
    expect((await stores.devices.find(a.id))?.lastSeen).toBe(1_700_000_000_000);
    expect((await stores.devices.find(b.id))?.lastSeen).toBe(1_800_000_000_000);
    // Two nodes flushing at once: the later time wins whatever the order.
    await Promise.all([stores.devices.saveLastSeen([[a.id, 1_900_000_000_002]]), stores.devices.saveLastSeen([[a.id, 1_900_000_000_001]])]);
    expect((await stores.devices.find(a.id))?.lastSeen).toBe(1_900_000_000_002);
    await stores.devices.saveLastSeen([]);
  });

  /** A device service over the engine, with a control gateway and a telemetry gateway wired as main.ts wires them. */
  function fleet(lookups?: Pick<DeviceStore, 'find' | 'findByTelemetryHash'>) {
    const { stores } = store();
    const events = new FleetEvents();
    const presence = new Presence(stores.devices, events);
    const audit = new AuditLog(stores);
    const router = new LocalDeviceRouter();
    const control = new ControlGateway({
      identity: identity, caCertPem: ca.certPem, devices: lookups ?? stores.devices, onFacts: async () => undefined, presence, router, log,
    });
    const ingest = { submit: () => Promise.resolve() } as unknown as IngestQueue;
    const telemetry = new TelemetryGateway({ devices: lookups ?? stores.devices, presence, ingest, log });
    const service = new DeviceService({ stores, presence, events, audit, connections: [router, control, telemetry] });
    return { stores, router, control, telemetry, service, presence };
  }

  /** A device with a real certificate (from the test CA) and a telemetry token. */
  async function enrolled(stores: Stores, status: DeviceStatus = 'active') {
    const id = newDeviceId();
    const cert = issueDeviceCert(ca, csr(), id);
    const telemetryToken = `tdt_${randomBytes(24).toString('base64url')}`;
    await stores.devices.insert(newDevice(await tokenId(stores), { id, status, certFingerprint: cert.fingerprint256, telemetryTokenHash: hashSecret(telemetryToken) }));
    return { id, certPem: cert.certPem, telemetryToken };
  }

  /** Runs an agent's control handshake against the gateway over a fake socket, up to sending client_auth. */
  async function reconnect(control: ControlGateway, device: { id: string; certPem: string }, beforeAuth = (): void => undefined): Promise<FakeSocket> {
    const ws = new FakeSocket();
    control.accept(ws as never, {} as IncomingMessage);
    const client = new ClientHandshake({ deviceId: device.id, deviceCertPem: device.certPem, deviceKeyPem: deviceKey.keyPem, caCertPem: ca.certPem, caPin: caPin(ca.certPem) });
    ws.emit('message', Buffer.from(JSON.stringify(client.hello())), false);
    await until(() => ws.sent.length > 0 || ws.closed !== null, 'server_hello');
    const hello = ws.sent[0];
    if (ws.closed || typeof hello !== 'string') return ws;
    const { auth } = client.onServerHello(JSON.parse(hello));
    beforeAuth();
    ws.emit('message', Buffer.from(JSON.stringify(auth)), false);
    return ws;
  }

  /** The telemetry upgrade as backend/http/upgrades.ts runs it: authenticate (async), then accept. */
  async function telemetryUpgrade(telemetry: TelemetryGateway, token: string): Promise<{ ws: FakeSocket; refused?: ErrorCode }> {
    const ws = new FakeSocket();
    const request = { headers: { authorization: `Bearer ${token}` }, socket: new EventEmitter() } as unknown as IncomingMessage;
    try {
      telemetry.accept(ws as never, await telemetry.authenticate(request));
      return { ws };
    } catch (err) {
      if (err instanceof TetherError) return { ws, refused: err.code };
      throw err;
    }
  }

  const opened = (ws: FakeSocket) => ws.sent.some((frame) => Buffer.isBuffer(frame));

  it('concurrent revocation and reconnect: a handshake whose lookup read the device before the revocation committed is closed by it', async () => {
    const lookups = holdableLookups(store().stores.devices);
    const { stores, router, control, telemetry, service, presence } = fleet(lookups.store);
    const device = await enrolled(stores);

    // Control channel: the auth lookup reads `active`, the revocation commits and closes what it knows, then the answer arrives.
    let readsBefore = 0;
    let release = (): void => undefined;
    const ws = await reconnect(control, device, () => {
      readsBefore = lookups.reads();
      release = lookups.hold();
    });
    await until(() => lookups.reads() > readsBefore, 'the handshake lookup to read the device');
    expect((await service.revoke(device.id, 'user:admin')).status).toBe('revoked');
    release();
    await until(() => ws.closed !== null, 'the handshake to be refused');
    expect(ws.closed).toEqual({ code: 4421, reason: 'DEVICE_REVOKED' });
    expect(opened(ws)).toBe(false);
    expect(router.isConnected(device.id)).toBe(false);
    expect(presence.isOnline(device.id)).toBe(false);

    // Telemetry: the token lookup reads `active`, the revocation commits, then the upgrade completes.
    const other = await enrolled(stores);
    const readsNow = lookups.reads();
    const releaseTelemetry = lookups.hold();
    const upgrade = telemetryUpgrade(telemetry, other.telemetryToken);
    await until(() => lookups.reads() > readsNow, 'the token lookup to read the device');
    await service.revoke(other.id, 'user:admin');
    releaseTelemetry();
    const { ws: socket, refused } = await upgrade;
    expect(refused).toBeUndefined();
    expect(socket.closed).toEqual({ code: 4421, reason: 'DEVICE_REVOKED' });
    expect(telemetry.socketCount).toBe(0);
    control.close();
  });

  it('concurrent revocation and reconnect: whatever the interleaving, the device ends revoked and no channel of it stays open', async () => {
    const { stores, router, control, telemetry, service } = fleet();
    const devices = await Promise.all(Array.from({ length: 12 }, () => enrolled(stores)));
    const outcomes = await Promise.all(devices.map(async (device, i) => {
      // The revocation starts with the hello lookup, with the auth lookup, or once the session is open;
      // each telemetry upgrade runs alongside.
      const stage = i % 3;
      let revoking: Promise<unknown> | null = null;
      const revoke = () => (revoking ??= service.revoke(device.id, 'user:admin'));
      if (stage === 0) void revoke();
      const [ws, upgrade] = await Promise.all([reconnect(control, device, stage === 1 ? () => void revoke() : undefined), telemetryUpgrade(telemetry, device.telemetryToken)]);
      if (stage === 2) await until(() => opened(ws) || ws.closed !== null, `device ${i}'s session to open`);
      await revoke();
      await until(() => ws.closed !== null, `device ${i}'s control channel to close`);
      return { ws, upgrade, wasOpen: opened(ws) };
    }));
    // The sessions that opened before their revocation were closed by it.
    expect(outcomes.filter((o) => o.wasOpen).length).toBeGreaterThanOrEqual(4);
    for (const { ws, upgrade } of outcomes) {
      // Refused at hello or auth, or closed by the revocation once open: the code is DEVICE_REVOKED every time.
      expect(ws.closed).toEqual({ code: 4421, reason: 'DEVICE_REVOKED' });
      if (upgrade.refused) expect(upgrade.refused).toBe('DEVICE_REVOKED');
      else expect(upgrade.ws.closed).toEqual({ code: 4421, reason: 'DEVICE_REVOKED' });
    }
    for (const device of devices) {
      expect((await stores.devices.find(device.id))?.status).toBe('revoked');
      expect(router.isConnected(device.id)).toBe(false);
    }
    // Closed sockets leave the gateway's set when ws reports the close.
    await until(() => telemetry.socketCount === 0, 'telemetry sockets to be gone');
    const revocations = await stores.audit.query({ action: 'device.revoke' }, 100);
    expect(revocations.map((e) => e.target).sort()).toEqual(devices.map((d) => d.id).sort());
    control.close();
  });

  it('approve racing revoke on a pending device: exactly one leaves pending, the device ends revoked, and the audit log agrees', async () => {
    const { stores, service } = fleet();
    const devices = await Promise.all(Array.from({ length: 12 }, () => enrolled(stores, 'pending')));
    const results = await Promise.all(devices.map(async (device, i) => {
      const approve = () => service.approve(device.id, 'user:alice');
      const revoke = () => service.revoke(device.id, 'user:bob');
      // Either one first, and at times one a few turns later.
      const [approved, revoked] = i % 2 === 0
        ? await Promise.all([approve(), ticks(i % 3).then(revoke)])
        : await Promise.all([ticks(i % 3).then(approve), revoke()]);
      return { device, approved, revoked };
    }));
    const audit = await stores.audit.query({}, 1_000);
    for (const { device, approved, revoked } of results) {
      expect(revoked.status).toBe('revoked');
      expect((await stores.devices.find(device.id))?.status).toBe('revoked');
      const entries = audit.filter((e) => e.target === device.id).sort((x, y) => x.id - y.id).map((e) => e.action);
      // Approval won the pending device and revocation followed, or revocation won and approval changed nothing.
      if (approved.status === 'active') expect(entries).toEqual(['device.approve', 'device.revoke']);
      else {
        expect(approved.status).toBe('revoked');
        expect(entries).toEqual(['device.revoke']);
      }
    }
  });
});
