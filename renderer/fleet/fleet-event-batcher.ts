import type { FleetEvent } from './fleet-store.js';

/**
 * Collects fleet events and hands them over once per animation frame. At thousands of status
 * updates a second, applying each alone would copy the device map and notify every subscriber
 * per event; one batch per frame costs one copy and one render pass.
 */
export interface FleetEventBatcher {
  push(event: FleetEvent): void;
  /** Applies whatever is queued now (before a list load, so the load sees every earlier event). */
  flush(): void;
}

export function createFleetEventBatcher(
  apply: (events: readonly FleetEvent[]) => void,
  schedule: (callback: () => void) => void = nextFrameOrSoon,
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

/** The next frame, or a quarter second when frames are not running (a hidden tab), so the queue stays bounded. */
function nextFrameOrSoon(callback: () => void): void {
  let done = false;
  const once = (): void => {
    if (done) return;
    done = true;
    callback();
  };
  requestAnimationFrame(once);
  setTimeout(once, 250);
}
