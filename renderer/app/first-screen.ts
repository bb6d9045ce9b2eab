import type { AuthState, AuthStore } from '../auth/auth-store.js';
import type { FleetState, FleetStore } from '../fleet/fleet-store.js';

/**
 * How long the console's first render waits for the first screen's answers. In a browser boot.ts
 * asked for them before the console's code loaded, so they are usually in by the time it runs;
 * when they are not (a slow backend, the desktop app, which asks later), the splash shows after
 * this, as it would have at once.
 */
export const FIRST_SCREEN_WAIT_MS = 300;

/** Whether the first screen can be drawn as it will stay: the sign-in form, or the fleet's first rows (or why it has none). */
export function firstScreenReady(auth: Pick<AuthState, 'phase'>, fleet: Pick<FleetState, 'ids' | 'loading' | 'loadError'>): boolean {
  switch (auth.phase) {
    case 'restoring':
      return false;
    case 'signed-in':
      return fleet.ids.length > 0 || !fleet.loading || fleet.loadError !== null;
    case 'signed-out':
    case 'signing-in':
      return true;
  }
}

/**
 * Resolves once the first screen is ready (see firstScreenReady) or after `maxWaitMs`. main.tsx
 * renders after it: drawing the splash, then the empty fleet, then its rows cost three React
 * commits and layouts of the page at start-up (the middle one, the whole console shell, the
 * largest), where one commit with the rows in it does.
 */
export function whenFirstScreenReady({ auth, fleet }: { auth: AuthStore; fleet: FleetStore }, maxWaitMs = FIRST_SCREEN_WAIT_MS): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (firstScreenReady(auth.getState(), fleet.getState())) done();
    };
    const unsubscribe = [auth.subscribe(check), fleet.subscribe(check)];
    const timer = setTimeout(() => done(), maxWaitMs);
    function done(): void {
      clearTimeout(timer);
      for (const stop of unsubscribe) stop();
      resolve();
    }
    check();
  });
}
