import { describe, expect, it } from 'vitest';
import { FleetEvents } from './fleet-events.js';
import { Presence } from './presence.js';

/** A last-seen sink that fails while `failing` is set, and otherwise records each batch. */
function sink() {
  const batches: Array<Array<readonly [string, number]>> = [];
  const state = { failing: false };
  return {
    batches,
    state,
    saveLastSeen: async (entries: ReadonlyArray<readonly [string, number]>) => {
      if (state.failing) throw new Error('database away');
      batches.push([...entries]);
    },
  };
}

describe('Presence', () => {
  it('keeps last-seen entries dirty when a write fails and writes them with the next flush', async () => {
    let now = 1_000;
    const store = sink();
    const presence = new Presence(store, new FleetEvents(), () => now);
    presence.seen('dev_a');
    presence.seen('dev_b');
    store.state.failing = true;
    await expect(presence.flush()).rejects.toThrow('database away');
    expect(store.batches).toEqual([]);

    now = 2_000;
    presence.seen('dev_b');
    store.state.failing = false;
    await presence.flush();
    expect(store.batches).toEqual([[['dev_a', 1_000], ['dev_b', 2_000]]]);
    // Written: nothing is left for the next flush.
    await presence.flush();
    expect(store.batches).toHaveLength(1);
  });

  it('answers the hot path from memory while a flush is in flight, and writes what was seen meanwhile next', async () => {
    let now = 1;
    const batches: Array<Array<readonly [string, number]>> = [];
    let release = (): void => undefined;
    const presence = new Presence({
      saveLastSeen: (entries) => {
        batches.push([...entries]);
        return new Promise<void>((resolve) => (release = resolve));
      },
    }, new FleetEvents(), () => now);
    presence.connected('dev_a');
    const first = presence.flush();
    now = 5;
    presence.seen('dev_a');
    expect(presence.isOnline('dev_a')).toBe(true);
    expect(presence.view({ id: 'dev_a', name: 'a', status: 'active', tags: {}, facts: null, createdAt: 0, lastSeen: null }).lastSeen).toBe(5);
    // A second flush waits for the first instead of writing alongside it.
    const second = presence.flush();
    expect(batches).toEqual([[['dev_a', 1]]]);
    release();
    await first;
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches).toEqual([[['dev_a', 1]], [['dev_a', 5]]]);
    release();
    await second;
  });

  it('starts a write when a device disconnects and does not throw when that write fails', async () => {
    const store = sink();
    store.state.failing = true;
    const events = new FleetEvents();
    const seen: unknown[] = [];
    events.subscribe((event) => seen.push(event));
    const presence = new Presence(store, events, () => 7);
    presence.connected('dev_a');
    presence.disconnected('dev_a');
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual([
      { type: 'device.status', id: 'dev_a', online: true, lastSeen: 7 },
      { type: 'device.status', id: 'dev_a', online: false, lastSeen: 7 },
    ]);
    store.state.failing = false;
    await presence.flush();
    expect(store.batches).toEqual([[['dev_a', 7]]]);
  });

  it('writes a large flush in batches with the event loop free between them, and keeps the unwritten ones dirty on a failure', async () => {
    const written: number[] = [];
    const turns: number[] = [];
    let fail = false;
    const presence = new Presence({
      saveLastSeen: async (entries) => {
        if (fail && written.length === 1) throw new Error('database away');
        written.push(entries.length);
      },
    }, new FleetEvents(), () => 9);
    for (let i = 0; i < 1_200; i++) presence.seen(`dev_${i}`);
    // A timer due now runs between the batches, not after the whole flush.
    const tick = setImmediate(() => turns.push(written.length));
    await presence.flush();
    clearImmediate(tick);
    expect(written).toEqual([500, 500, 200]);
    expect(turns).toEqual([1]);

    for (let i = 0; i < 1_200; i++) presence.seen(`dev_${i}`);
    written.length = 0;
    fail = true;
    await expect(presence.flush()).rejects.toThrow('database away');
    fail = false;
    await presence.flush();
    // The first batch was written; the 700 after it went back to dirty and were written next.
    expect(written).toEqual([500, 500, 200]);
  });
});
