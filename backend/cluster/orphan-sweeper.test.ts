import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { MAIN_MIGRATIONS } from '../store/migrations.js';
import { storesOnSqlite } from '../store/open-store.js';
import { openDatabase } from '../store/sqlite/db.js';
import { OrphanSweeper } from './orphan-sweeper.js';

const COMMAND = { command: { shell: 'sleep 60' }, timeoutMs: 60_000 };

describe('OrphanSweeper', () => {
  it('on the leader, ends the work of an owner missing for the grace period, and never a live owner\'s', async () => {
    const stores = storesOnSqlite(openDatabase(':memory:', MAIN_MIGRATIONS));
    for (const [id, owner] of [['r-dead', 'dead#1'], ['r-live', 'live#1'], ['r-back', 'flaky#1']] as const) {
      await stores.runs.insertRun({ id, jobId: null, deviceId: 'dev', command: COMMAND, batch: null, createdBy: 'user:alice', createdAt: 0, owner });
      await stores.runs.markRunning(id, 1);
    }
    await stores.shellSessions.insert({ id: 's-dead', deviceId: 'dev', username: 'alice', startedAt: 0, recording: null, owner: 'dead#1' });
    let now = 10_000;
    let alive = new Set(['live#1']);
    let leading = false;
    const sweeper = new OrphanSweeper({ stores, aliveInstances: async () => alive, leads: () => leading, log: pino({ level: 'silent' }), graceMs: 5_000, now: () => now });

    // Not the leader: nothing happens.
    expect(await sweeper.sweep()).toEqual([]);
    leading = true;
    // Missing owners are noted, not ended at once.
    expect(await sweeper.sweep()).toEqual([]);
    now += 3_000;
    // flaky#1's heartbeat is back: it is alive after all.
    alive = new Set(['live#1', 'flaky#1']);
    expect(await sweeper.sweep()).toEqual([]);
    now += 3_000;
    expect(await sweeper.sweep()).toEqual(['dead#1']);
    expect(await stores.runs.findRun('r-dead')).toMatchObject({ state: 'cancelled', error: 'The backend node running it stopped' });
    expect(await stores.shellSessions.find('s-dead')).toMatchObject({ endCode: 'GOING_AWAY' });
    expect(await stores.runs.findRun('r-live')).toMatchObject({ state: 'running' });
    expect(await stores.runs.findRun('r-back')).toMatchObject({ state: 'running' });
    // flaky#1 goes missing again: its grace starts over.
    alive = new Set(['live#1']);
    expect(await sweeper.sweep()).toEqual([]);
    now += 5_000;
    expect(await sweeper.sweep()).toEqual(['flaky#1']);
  });
});
