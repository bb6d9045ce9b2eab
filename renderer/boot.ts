import { API_PREFIX, ME_PATH, devicesPath } from './api/api-paths.js';
import { createEarlyFetch } from './api/early-fetch.js';
import { firstPageSize } from './fleet/fleet-pages.js';
import { inDesktopApp } from './host/desktop-bridge.js';

/*
 * Zod asks whether it may compile parsers with `new Function` when its first object schema is
 * built, which happens while the console's modules evaluate, before main.tsx runs. The console's
 * CSP forbids eval, so that probe would be refused and reported as a violation. Zod reads its
 * settings from this global and documents setting it before it loads; jitless skips the probe.
 */
const zodGlobal = globalThis as typeof globalThis & { __zod_globalConfig?: { jitless?: boolean } };
(zodGlobal.__zod_globalConfig ??= {}).jitless = true;

/*
 * The page's entry, small on purpose. The console (main.tsx: React, zod, every protocol schema)
 * takes most of a second to download, compile and evaluate, and only then could it ask whether
 * there is a session and, after that, for the first device page. In a browser this starts both
 * requests first, so their answers travel meanwhile; the API client takes them (early-fetch.ts).
 * The desktop app's requests go to whichever backend its main process has selected, which the
 * console asks for first (host/host.ts), so there it starts none.
 */
const firstPage = firstPageSize(window.innerHeight);
const fetch = inDesktopApp(window)
  ? globalThis.fetch.bind(globalThis)
  : createEarlyFetch(globalThis.fetch.bind(globalThis), [`${API_PREFIX}${ME_PATH}`, `${API_PREFIX}${devicesPath({ limit: firstPage })}`]);

// Not a top-level await: main.tsx's chunk imports this one's modules, and would wait on it forever.
import('./main.js')
  .then(({ startConsole }) => startConsole({ fetch, firstPage }))
  .catch((error: unknown) => {
    console.error('the console failed to start', error);
  });
