import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { AuditQuery } from '../../protocol/index.js';
import { openDatabase } from '../store/db.js';
import { MAIN_MIGRATIONS } from '../store/migrations.js';
import { AuditLog } from './audit-log.js';
import { AuditQueryService } from './audit-query.js';

function setup(n: number) {
  const db = openDatabase(':memory:', MAIN_MIGRATIONS);
  let ts = 1000;
  const log = new AuditLog(db, () => ts++);
  for (let i = 0; i < n; i++) log.record(i % 3 === 0 ? 'user:alice' : 'user:bob', i % 2 === 0 ? 'shell.open' : 'command.run', `dev_${i % 5}`, { i });
  return new AuditQueryService(db);
}

describe('AuditQueryService', () => {
  it('pages newest first by id with a keyset cursor that ends with null', () => {
    const audit = setup(25);
    const seen: number[] = [];
    let before: number | undefined;
    for (;;) {
      const page = audit.page(AuditQuery.parse({ limit: 10, before }));
      seen.push(...page.entries.map((e) => Number(e.details.i)));
      if (page.nextBefore === null) break;
      before = page.nextBefore;
    }
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => 24 - i));
  });

  it('filters by actor, action (with a trailing * for a family), target and time', () => {
    const audit = setup(30);
    const page = audit.page(AuditQuery.parse({ actor: 'user:alice', action: 'shell.*', target: 'dev_0', limit: 1000 }));
    expect(page.entries.map((e) => e.details.i)).toEqual([0]);
    expect(page.entries.every((e) => e.actor === 'user:alice' && e.action === 'shell.open')).toBe(true);
    const window = audit.page(AuditQuery.parse({ since: 1010, until: 1013 }));
    expect(window.entries.map((e) => e.ts)).toEqual([1012, 1011, 1010]);
    expect(audit.page(AuditQuery.parse({ action: 'shell' })).entries).toEqual([]);
  });

  it('exports every matching entry as JSON lines, across many pages', async () => {
    const audit = setup(1234);
    const lines = (await text(audit.exportLines({ actor: 'user:bob' }))).trim().split('\n');
    const entries = lines.map((l) => JSON.parse(l) as { actor: string; id: number });
    expect(entries).toHaveLength(1234 - Math.ceil(1234 / 3));
    expect(entries.every((e) => e.actor === 'user:bob')).toBe(true);
    expect(entries.map((e) => e.id)).toEqual([...entries.map((e) => e.id)].sort((a, b) => b - a));
  });
});
