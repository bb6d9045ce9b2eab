import { beforeAll, expect, it } from 'vitest';
import { AuditLog } from '../../backend/audit/audit-log.js';
import { FleetEvents } from '../../backend/devices/fleet-events.js';
import { EnrolmentService } from '../../backend/enrol/enrolment.js';
import { TokenService } from '../../backend/enrol/tokens.js';
import { createCa, type CertifiedKey } from '../../backend/pki/ca.js';
import { createDeviceKeyAndCsr } from '../../agent/enrol/csr.js';
import { codeOf, describeEachEngine } from './engines.js';

let ca: CertifiedKey;
/** A CSR made as the agent makes it at enrolment. */
let deviceCsr: string;
beforeAll(async () => {
  [ca, { csrPem: deviceCsr }] = await Promise.all([createCa(), createDeviceKeyAndCsr()]);
});
const csr = (): string => deviceCsr;



describeEachEngine('registration tokens', (store) => {
  function services(now = () => Date.now()) {
    const { stores } = store();
    const audit = new AuditLog(stores, now);
    const tokens = new TokenService(stores, audit, now);
    const presence = { view: (r: { id: string }) => r } as never;
    const enrolment = new EnrolmentService({ stores, tokens, presence, events: new FleetEvents(), audit, ca, now });
    return { stores, tokens, enrolment };
  }

  it('creates, lists newest first, revokes once, and audits both', async () => {
    let t = 1_000;
    const { stores, tokens } = services(() => t++);
    const a = await tokens.create({ uses: 2, tags: { site: 'lyon' }, ttlSeconds: 60 }, 'user:alice');
    const b = await tokens.create({ requireApproval: true }, 'cli:root');
    expect(a).toMatchObject({ maxUses: 2, uses: 0, tags: { site: 'lyon' }, expiresAt: a.createdAt + 60_000, requireApproval: false, revokedAt: null });
    expect(a.token).toMatch(/^trt_/);
    expect((await tokens.list()).map((x) => x.id)).toEqual([b.id, a.id]);
    const revoked = await tokens.revoke(a.id, 'user:alice');
    expect(revoked.revokedAt).not.toBeNull();
    // Revoking again keeps the first time.
    expect((await tokens.revoke(a.id, 'user:alice')).revokedAt).toBe(revoked.revokedAt);
    expect(await codeOf(tokens.revoke('tok_none', 'user:alice'))).toBe('NOT_FOUND');
    const actions = (await stores.audit.query({}, 10)).map((e) => `${e.actor} ${e.action}`);
    expect(actions).toEqual(['user:alice token.revoke', 'user:alice token.revoke', 'cli:root token.create', 'user:alice token.create']);
  });

  it('refuses an unknown, revoked, expired or used-up token with its code, and spends nothing then', async () => {
    let now = 10_000;
    const { tokens, enrolment } = services(() => now);
    const register = (token: string) => codeOf(enrolment.register({ token, csr: csr() }));
    expect(await register('trt_nothing')).toBe('TOKEN_INVALID');
    const once = await tokens.create({ uses: 1 }, 'test');
    expect(await register(once.token)).toBe('none');
    expect(await register(once.token)).toBe('TOKEN_USED_UP');
    const revoked = await tokens.create({}, 'test');
    await tokens.revoke(revoked.id, 'test');
    expect(await register(revoked.token)).toBe('TOKEN_REVOKED');
    const expiring = await tokens.create({ ttlSeconds: 1 }, 'test');
    now += 1_000;
    expect(await register(expiring.token)).toBe('TOKEN_EXPIRED');
    expect((await tokens.get(expiring.id)).uses).toBe(0);
  });

  it('gives back the use of a token when the enrolment fails after spending it', async () => {
    const { stores, tokens, enrolment } = services();
    const token = await tokens.create({ uses: 1 }, 'test');
    expect(await codeOf(enrolment.register({ token: token.token, csr: 'not a CSR' }))).not.toBe('none');
    expect((await tokens.get(token.id)).uses).toBe(0);
    expect(await stores.devices.list()).toEqual([]);
    expect(await codeOf(enrolment.register({ token: token.token, csr: csr() }))).toBe('none');
  });

  // On PostgreSQL the enrolments run on separate pooled connections, racing for the token's row.
  it('lets exactly one of 20 concurrent enrolments through on a token with one use', async () => {
    const { stores, tokens, enrolment } = services();
    const token = await tokens.create({ uses: 1 }, 'test');
    const request = csr();
    const codes = await Promise.all(Array.from({ length: 20 }, () => codeOf(enrolment.register({ token: token.token, csr: request }))));
    expect(codes.filter((c) => c === 'none')).toHaveLength(1);
    expect(codes.filter((c) => c === 'TOKEN_USED_UP')).toHaveLength(19);
    expect(await stores.devices.list()).toHaveLength(1);
    expect((await tokens.get(token.id)).uses).toBe(1);
  });
});
