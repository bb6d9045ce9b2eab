import { describe, expect, it, vi } from 'vitest';
import { createFleetEventBatcher } from './fleet-event-batcher.js';
import type { FleetEvent } from './fleet-store.js';

const status = (n: number): FleetEvent => ({ type: 'device.status', id: `dev_${n}`, online: true, lastSeen: n });

describe('fleet event batcher', () => {
  it('hands over every event once per scheduled frame, in order', () => {
    const frames: Array<() => void> = [];
    const apply = vi.fn();
    const batcher = createFleetEventBatcher(apply, (cb) => frames.push(cb));
    for (let n = 0; n < 100; n++) batcher.push(status(n));
    expect(frames).toHaveLength(1);
    expect(apply).not.toHaveBeenCalled();
    frames.shift()?.();
    expect(apply).toHaveBeenCalledTimes(1);
    expect(apply.mock.calls[0]?.[0]).toEqual(Array.from({ length: 100 }, (_, n) => status(n)));
    batcher.push(status(100));
    expect(frames).toHaveLength(1);
  });

  it('flushes at once on demand and does nothing with an empty queue', () => {
    const frames: Array<() => void> = [];
    const apply = vi.fn();
    const batcher = createFleetEventBatcher(apply, (cb) => frames.push(cb));
    batcher.flush();
    expect(apply).not.toHaveBeenCalled();
    batcher.push(status(1));
    batcher.flush();
    expect(apply).toHaveBeenCalledWith([status(1)]);
    frames.shift()?.();
    expect(apply).toHaveBeenCalledTimes(1);
  });
});
