import { describe, expect, it } from 'vitest';
import { TetherError } from '../../protocol/index.js';
import { errorBody } from '../http/error-handler.js';
import { openDatabase } from './sqlite/db.js';
import { MAIN_MIGRATIONS } from './migrations.js';
import { StoreHealth, storeUnavailable } from './store-health.js';

describe('storeUnavailable', () => {
  it('codes a real disk-full error from SQLite as STORE_UNAVAILABLE, and answers it 503 over HTTP', () => {
    const db = openDatabase(':memory:', MAIN_MIGRATIONS);
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
    let thrown: unknown;
    try {
      const insert = db.prepare("INSERT INTO audit_log(ts, actor, action, target, details) VALUES (0, 'a', 'x', 't', ?)");
      for (let i = 0; i < 1_000; i++) insert.run('x'.repeat(1_000));
    } catch (err) {
      thrown = err;
    }
    expect(storeUnavailable(thrown)?.code).toBe('STORE_UNAVAILABLE');
    expect(errorBody(thrown)).toMatchObject({ status: 503, body: { code: 'STORE_UNAVAILABLE' } });
  });

  it('leaves constraint violations and other errors alone', () => {
    const db = openDatabase(':memory:', MAIN_MIGRATIONS);
    let thrown: unknown;
    try {
      db.prepare("INSERT INTO users(username,password_hash,role,created_at) VALUES('a','x','root',0)").run();
    } catch (err) {
      thrown = err;
    }
    expect(storeUnavailable(thrown)).toBeUndefined();
    expect(storeUnavailable(new Error('boom'))).toBeUndefined();
    expect(storeUnavailable({ code: 'SQLITE_IOERR_WRITE' })?.code).toBe('STORE_UNAVAILABLE');
    expect(storeUnavailable({ code: 'SQLITE_BUSY' })?.code).toBe('STORE_UNAVAILABLE');
  });
});

describe('StoreHealth', () => {
  it('is red from a failure until a success, or until a quiet period passes without another failure', () => {
    const clock = { now: 0 };
    const health = new StoreHealth(10_000, () => clock.now);
    expect(health.healthy).toBe(true);
    health.failed(new TetherError('STORE_UNAVAILABLE', 'disk full'));
    expect(health.problem).toBe('disk full');
    clock.now += 9_999;
    expect(health.healthy).toBe(false);
    clock.now += 1;
    expect(health.healthy).toBe(true);
    health.failed(new TetherError('STORE_UNAVAILABLE'));
    health.succeeded();
    expect(health.healthy).toBe(true);
  });
});
