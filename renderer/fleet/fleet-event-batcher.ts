import type { FleetEvent } from './fleet-store.js';

/**
 * Collects fleet events and hands them over in batches. At thousands of status updates a second,
 * applying each alone would copy the 10,000-entry device map and notify every subscriber per event.
 * A batch costs one copy and one render pass; batching per {@link BATCH_MS} rather than per frame
 * keeps that copy to ten a second (per frame it took most of each frame on a busy 2-core machine),
 * and a tenth of a second is not a delay anyone reads a status by.
 */
export const BATCH_MS = 100;

export interface FleetEventBatcher {
  push(event: FleetEvent): void;
  /** Applies whatever is queued now (before a list load, so the load sees every earlier event). */
  flush(): void;
}

export function createFleetEventBatcher(
  apply: (events: readonly FleetEvent[]) => void,
  schedule: (callback: () => void) => void = (callback) => void setTimeout(callback, BATCH_MS),
): FleetEventBatcher {
  let queue: FleetEvent[] = [];
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (queue.length === 0) return;
    const events = queue;
    queue = [];
    apply(events);
  };
  return {
    push(event) {
      queue.push(event);
      if (!scheduled) {
        scheduled = true;
        schedule(flush);
      }
    },
    flush,
  };
}

