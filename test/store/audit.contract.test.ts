import { text } from 'node:stream/consumers';
import { expect, it } from 'vitest';
import { AuditQuery } from '../../protocol/index.js';
import { AuditLog } from '../../backend/audit/audit-log.js';
import { AuditQueryService } from '../../backend/audit/audit-query.js';
import { describeEachEngine } from './engines.js';

describeEachEngine('audit store', (store) => {
  async function setup(n: number) {
    const { stores } = store();
    let ts = 1000;
    const log = new AuditLog(stores, () => ts++);
    // One transaction: a thousand inserts one by one would take long on a server database.
    await stores.transaction(async (tx) => {
      for (let i = 0; i < n; i++) await log.record(i % 3 === 0 ? 'user:alice' : 'user:bob', i % 2 === 0 ? 'shell.open' : 'command.run', `dev_${i % 5}`, { i }, tx);
    });
    return new AuditQueryService(stores.audit, log);
  }

  it('pages newest first by id with a keyset cursor that ends with null', async () => {
    const audit = await setup(25);
    const seen: number[] = [];
    let before: number | undefined;
    for (;;) {
      const page = await audit.page(AuditQuery.parse({ limit: 10, before }));
      seen.push(...page.entries.map((e) => Number(e.details.i)));
      if (page.nextBefore === null) break;
      before = page.nextBefore;
    }
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => 24 - i));
  });

  it('filters by actor, action (with a trailing * for a family), target and time', async () => {
    const audit = await setup(30);
    const page = await audit.page(AuditQuery.parse({ actor: 'user:alice', action: 'shell.*', target: 'dev_0', limit: 1000 }));
    expect(page.entries.map((e) => e.details.i)).toEqual([0]);
    expect(page.entries.every((e) => e.actor === 'user:alice' && e.action === 'shell.open')).toBe(true);
    const window = await audit.page(AuditQuery.parse({ since: 1010, until: 1013 }));
    expect(window.entries.map((e) => e.ts)).toEqual([1012, 1011, 1010]);
    expect((await audit.page(AuditQuery.parse({ action: 'shell' }))).entries).toEqual([]);
    // A prefix is a prefix, not a pattern: LIKE's wildcards in it match only themselves.
    expect((await audit.page(AuditQuery.parse({ action: 'shell_*' }))).entries).toEqual([]);
  });

  it('exports every matching entry as JSON lines, across many pages', async () => {
    const audit = await setup(1234);
    const lines = (await text(await audit.exportLines({ actor: 'user:bob' }, 'user:carol'))).trim().split('\n');
    const entries = lines.map((l) => JSON.parse(l) as { actor: string; id: number });
    expect(entries).toHaveLength(1234 - Math.ceil(1234 / 3));
    expect(entries.every((e) => e.actor === 'user:bob')).toBe(true);
    expect(entries.map((e) => e.id)).toEqual([...entries.map((e) => e.id)].sort((a, b) => b - a));
    // Taking a copy of the log is itself in the log.
    expect(await store().stores.audit.query({ actor: 'user:carol' }, 10)).toEqual([
      expect.objectContaining({ action: 'audit.export', details: { actor: 'user:bob' } }),
    ]);
  });

  it('rolls an entry back with the transaction it was written in', async () => {
    const { stores } = store();
    const log = new AuditLog(stores);
    await expect(stores.transaction(async (tx) => {
      await log.record('user:alice', 'token.create', 'tok_1', {}, tx);
      throw new Error('the action failed');
    })).rejects.toThrow('the action failed');
    await log.record('user:alice', 'token.revoke', 'tok_1');
    expect((await stores.audit.query({}, 10)).map((e) => e.action)).toEqual(['token.revoke']);
  });
});
