/** Bulk tag and revoke endpoints against the real backend process: all or nothing, roles, live events. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeviceKeyAndCsr } from '../../agent/enrol/csr.js';
import type { ConsoleServerMessage } from '../../protocol/index.js';
import { api, backendDb, cleanup, createToken, deviceOf, login, openConsole, startBackend, waitFor, type ApiDevice, type Backend } from '../harness.js';
import { addUser } from '../shell-client.js';

let backend: Backend;
let admin: string;
let ids: string[];
/** Made by the tags tests, reused by the revoke tests (adding a user runs the CLI, which is slow). */
let operator: string;
const UNKNOWN = `dev_${'z'.repeat(26)}`;

/** Enrols devices through the register API alone: these tests need rows, not running agents. */
async function enrol(count: number): Promise<string[]> {
  const token = await createToken(backend, admin, { uses: count, tags: { site: 'lab' } });
  const { csrPem } = await createDeviceKeyAndCsr();
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await api(backend, 'POST', '/api/v1/agent/register', { body: { token, csr: csrPem, name: `bulk-${i}` } });
    expect(res.status).toBe(200);
    out.push((res.body as { deviceId: string }).deviceId);
  }
  return out;
}

const tagsOf = async (id: string): Promise<ApiDevice['tags'] | undefined> => (await deviceOf(backend, admin, id))?.tags;

beforeAll(async () => {
  backend = await startBackend();
  admin = await login(backend);
  ids = await enrol(4);
}, 60_000);

afterAll(async () => {
  await backend?.stop();
  cleanup(backend?.home ?? '');
});

describe('GET /api/v1/devices', () => {
  it('pages the list in name order with a cursor that ends with null, and refuses bad paging with BAD_REQUEST', async () => {
    const all = await api(backend, 'GET', '/api/v1/devices', { token: admin });
    const everyone = (all.body as { devices: ApiDevice[]; nextAfter: string | null });
    expect(everyone.nextAfter).toBeNull();
    const paged: string[] = [];
    let after: string | null = null;
    for (let pages = 1; ; pages++) {
      const query: string = after === null ? 'limit=3' : `limit=3&after=${encodeURIComponent(after)}`;
      const res = await api(backend, 'GET', `/api/v1/devices?${query}`, { token: admin });
      expect(res.status).toBe(200);
      const page = res.body as { devices: ApiDevice[]; nextAfter: string | null };
      expect(page.devices.length).toBeLessThanOrEqual(3);
      paged.push(...page.devices.map((d) => d.id));
      if (page.nextAfter === null) break;
      after = page.nextAfter;
      expect(pages).toBeLessThan(10);
    }
    expect(paged).toEqual(everyone.devices.map((d) => d.id));

    for (const query of ['limit=0', 'limit=5001', 'limit=x', 'after=', 'after=not-a-cursor', `after=${Buffer.from('["a","../x"]').toString('base64url')}`]) {
      const res = await api(backend, 'GET', `/api/v1/devices?${query}`, { token: admin });
      expect(res.status, query).toBe(400);
      expect(res.body, query).toMatchObject({ code: 'BAD_REQUEST' });
    }
  });
});

describe('POST /api/v1/devices/tags', () => {
  it('sets and removes tags on every listed device, audits each, and tells open consoles', async () => {
    const [a, b, , bystander] = ids as [string, string, string, string];
    const live = await openConsole(backend, admin);
    try {
      const res = await api(backend, 'POST', '/api/v1/devices/tags', { token: admin, body: { ids: [a, b], set: { rack: 'r1', site: 'paris' } } });
      expect(res.status).toBe(200);
      const devices = (res.body as { devices: ApiDevice[] }).devices;
      expect(devices.map((d) => [d.id, d.tags])).toEqual([
        [a, { site: 'paris', rack: 'r1' }],
        [b, { site: 'paris', rack: 'r1' }],
      ]);
      const removed = await api(backend, 'POST', '/api/v1/devices/tags', { token: admin, body: { ids: [b], remove: ['rack'] } });
      expect((removed.body as { devices: ApiDevice[] }).devices[0]?.tags).toEqual({ site: 'paris' });
      expect(await tagsOf(a)).toEqual({ site: 'paris', rack: 'r1' });
      expect(await tagsOf(bystander)).toEqual({ site: 'lab' });

      const upserts = (): Array<Extract<ConsoleServerMessage, { type: 'device.upsert' }>> =>
        live.messages.filter((m): m is Extract<ConsoleServerMessage, { type: 'device.upsert' }> => m.type === 'device.upsert');
      await waitFor(() => upserts().length >= 3, 5_000, 'device.upsert events');
      expect(upserts().map((m) => m.device.id)).toEqual([a, b, b]);
      expect(upserts().some((m) => m.device.id === bystander)).toBe(false);
    } finally {
      live.close();
    }

    const db = await backendDb(backend, 'main');
    try {
      const rows = await db.selectFrom('audit_log').select(['actor', 'target']).where('action', '=', 'device.tags').orderBy('id').execute();
      expect(rows).toEqual([
        { actor: 'user:admin', target: a },
        { actor: 'user:admin', target: b },
        { actor: 'user:admin', target: b },
      ]);
    } finally {
      await db.destroy();
    }
  });

  it('changes nothing when one id is unknown', async () => {
    const [a, b] = ids as [string, string];
    const before = [await tagsOf(a), await tagsOf(b)];
    const res = await api(backend, 'POST', '/api/v1/devices/tags', { token: admin, body: { ids: [a, UNKNOWN, b], set: { broken: 'yes' } } });
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: 'DEVICE_UNKNOWN' });
    expect([await tagsOf(a), await tagsOf(b)]).toEqual(before);
  });

  it('refuses a viewer, bad tags and an empty or oversized id list with stable codes', async () => {
    const viewer = await addUser(backend, 'vic', 'viewer');
    const [a] = ids as [string];
    const refused = await api(backend, 'POST', '/api/v1/devices/tags', { token: viewer, body: { ids: [a], set: { x: '1' } } });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ code: 'FORBIDDEN' });
    expect(await tagsOf(a)).not.toHaveProperty('x');

    operator = await addUser(backend, 'olga', 'operator');
    expect((await api(backend, 'POST', '/api/v1/devices/tags', { token: operator, body: { ids: [a], set: { x: '1' } } })).status).toBe(200);

    for (const body of [{ ids: [], set: { x: '1' } }, { ids: [a] }, { ids: [a], set: { 'bad key': '1' } }, { ids: Array.from({ length: 10_001 }, () => a), set: { x: '1' } }]) {
      const res = await api(backend, 'POST', '/api/v1/devices/tags', { token: admin, body });
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
    }
  });
});

describe('POST /api/v1/devices/revoke', () => {
  it('is admin only, all or nothing, and leaves a bystander active', async () => {
    const [, , c, bystander] = ids as [string, string, string, string];
    const refused = await api(backend, 'POST', '/api/v1/devices/revoke', { token: operator, body: { ids: [c] } });
    expect(refused.body).toMatchObject({ code: 'FORBIDDEN' });

    const unknown = await api(backend, 'POST', '/api/v1/devices/revoke', { token: admin, body: { ids: [c, UNKNOWN] } });
    expect(unknown.body).toMatchObject({ code: 'DEVICE_UNKNOWN' });
    expect((await deviceOf(backend, admin, c))?.status).toBe('active');

    const res = await api(backend, 'POST', '/api/v1/devices/revoke', { token: admin, body: { ids: [c] } });
    expect(res.status).toBe(200);
    expect((res.body as { devices: ApiDevice[] }).devices.map((d) => [d.id, d.status])).toEqual([[c, 'revoked']]);
    expect((await deviceOf(backend, admin, c))?.status).toBe('revoked');
    expect((await deviceOf(backend, admin, bystander))?.status).toBe('active');
  });
});
