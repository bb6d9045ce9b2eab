import { randomBytes } from 'node:crypto';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeviceKeyAndCsr } from '../../agent/enrol/csr.js';
import { DEFAULT_LOGIN_LIMITS } from '../../backend/auth/login-throttle.js';
import { DEFAULT_REGISTER_LIMITS } from '../../backend/enrol/register-limiter.js';
import { api, cleanup, startBackend, tempDir, type Backend } from '../harness.js';
import { dropPrefix, TEST_NATS_URL, testNats, testPrefix } from '../bus/test-nats.js';
import { createTestDatabase } from '../store/test-database.js';

const codeOf = (res: { body: unknown }) => (res.body as { code?: string } | undefined)?.code;

/**
 * Two real nodes on one PostgreSQL and one NATS: failed logins and failed registrations from one
 * address, spread over both nodes, hit the limit at the same total count as on one node.
 */
describe('login throttling and the enrolment limiter are shared by the nodes of a cluster', () => {
  let database: { url: string; drop(): Promise<void> } | undefined;
  const prefix = testPrefix();
  const nodes: Backend[] = [];
  const homes: string[] = [];

  beforeAll(async () => {
    await (await testNats()).close();
    database = await createTestDatabase();
    for (const name of ['node-a', 'node-b']) {
      const home = tempDir('backend');
      homes.push(home);
      if (nodes[0]) cpSync(join(nodes[0].home, 'pki'), join(home, 'pki'), { recursive: true });
      nodes.push(await startBackend({ home, env: { TETHER_DATABASE_URL: database.url, TETHER_NATS_URL: TEST_NATS_URL, TETHER_NATS_PREFIX: prefix, TETHER_NODE_ID: name } }));
    }
  });

  afterAll(async () => {
    await Promise.all(nodes.map((node) => node.proc.stop()));
    await database?.drop();
    await dropPrefix(prefix);
    cleanup(...homes);
  });

  it(`refuses a username after ${DEFAULT_LOGIN_LIMITS.perUserIp} failed logins in all, alternating between the nodes, on both nodes`, async () => {
    const [a, b] = [nodes[0]!, nodes[1]!];
    const attempt = (node: Backend, password: string) => api(node, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password } });
    const seen: string[] = [];
    for (let i = 0; i < DEFAULT_LOGIN_LIMITS.perUserIp; i++) seen.push(String(codeOf(await attempt(i % 2 === 0 ? a : b, `wrong-${i}`))));
    // Each node saw at most 3 of them: alone, neither would refuse yet.
    expect(seen).toEqual(Array<string>(DEFAULT_LOGIN_LIMITS.perUserIp).fill('LOGIN_FAILED'));
    for (const node of [b, a]) {
      // Even the right password is refused now, with the wait until the window ends.
      const refused = await attempt(node, 'correct horse battery staple');
      expect([refused.status, codeOf(refused)]).toEqual([429, 'RATE_LIMITED']);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(DEFAULT_LOGIN_LIMITS.windowS - 60);
    }
  });

  it(`refuses an address after ${DEFAULT_REGISTER_LIMITS.failures} wrong registration tokens in all, alternating between the nodes, on both nodes`, async () => {
    const { csrPem } = await createDeviceKeyAndCsr();
    const register = (node: Backend) => api(node, 'POST', '/api/v1/agent/register', { body: { token: `rt_${randomBytes(32).toString('base64url')}`, csr: csrPem } });
    const seen: string[] = [];
    for (let i = 0; i < DEFAULT_REGISTER_LIMITS.failures; i++) seen.push(String(codeOf(await register(nodes[i % 2]!))));
    expect(seen).toEqual(Array<string>(DEFAULT_REGISTER_LIMITS.failures).fill('TOKEN_INVALID'));
    for (const node of nodes) {
      const refused = await register(node);
      expect([refused.status, codeOf(refused)]).toEqual([429, 'RATE_LIMITED']);
    }
  });
});
