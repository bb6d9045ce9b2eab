import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdvisoryLease } from '../../backend/store/postgres/advisory-lease.js';
import { createTestDatabase } from '../store/test-database.js';

const log = pino({ level: 'silent' });

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - start;
}

describe('AdvisoryLease (the cluster leader lease, on a real PostgreSQL)', () => {
  let database: { url: string; drop(): Promise<void> };
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database.drop();
  });

  it('lets one node lead and hands the lease over when the leader goes', async () => {
    const first = new AdvisoryLease({ url: database.url, log, intervalMs: 200 });
    const second = new AdvisoryLease({ url: database.url, log, intervalMs: 200 });
    const changes: boolean[] = [];
    second.onChange((leader) => changes.push(leader));
    try {
      await first.start();
      await second.start();
      expect(first.isLeader).toBe(true);
      expect(second.isLeader).toBe(false);
      await new Promise((r) => setTimeout(r, 500));
      expect(second.isLeader).toBe(false);
      await first.close();
      const took = await until(() => second.isLeader, 5_000, 'takeover');
      expect(took).toBeLessThan(1_000);
      expect(changes).toEqual([true]);
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('steps down when its connection is killed, and the lease is taken again by one node', async () => {
    const first = new AdvisoryLease({ url: database.url, log, intervalMs: 200 });
    const second = new AdvisoryLease({ url: database.url, log, intervalMs: 200 });
    const firstChanges: boolean[] = [];
    first.onChange((leader) => firstChanges.push(leader));
    const { default: pg } = await import('pg');
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    try {
      await first.start();
      await second.start();
      expect(first.isLeader).toBe(true);
      // The leader's session ends under it (a failover, a DBA's pg_terminate_backend): its lock goes with it.
      // Only this test's database: other databases on the server are not ours.
      await admin.query("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid() AND database = (SELECT oid FROM pg_database WHERE datname = current_database())");
      await until(() => firstChanges.includes(false), 5_000, 'the old leader stepping down');
      // Either node may win the lock back (the old leader competes again on a new connection), never both.
      await until(() => first.isLeader !== second.isLeader, 5_000, 'a new leader');
      await new Promise((r) => setTimeout(r, 600));
      expect(Number(first.isLeader) + Number(second.isLeader)).toBe(1);
    } finally {
      await admin.end();
      await first.close();
      await second.close();
    }
  });
});
