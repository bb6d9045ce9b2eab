import { dirname, join, resolve } from 'node:path';

/**
 * Where the parts of the app are, from the bundled main script's own path. The same layout in
 * development (`npm start`) and in a package (electron-builder's `files`):
 * `dist-electron/main.mjs`, `dist-electron/preload.cjs`, `renderer/dist/`.
 */
export function appPaths(mainFile: string): { appRoot: string; preload: string; bundleDir: string } {
  const here = dirname(mainFile);
  const appRoot = resolve(here, '..');
  return { appRoot, preload: join(here, 'preload.cjs'), bundleDir: join(appRoot, 'renderer', 'dist') };
}
