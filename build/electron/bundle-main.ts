/**
 * Bundles the Electron main process (electron/main.ts and what it imports) into one ESM file and
 * the preload into one CommonJS file (a sandboxed preload cannot be a module), since Electron
 * does not run TypeScript. Used by `npm start`, `npm run dist` and the Electron e2e tests.
 * The layout is the one electron/app-paths.ts expects: dist-electron/ beside renderer/dist/.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build, type BuildOptions } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '..', '..');
export const ELECTRON_OUT_DIR = join(ROOT, 'dist-electron');

const MISSING_OPTIONAL = join(ROOT, 'build', 'electron', 'missing-optional.cjs');
/**
 * ws (the desktop forwards' sockets) is CommonJS: in an ESM bundle its `require('events')` and
 * the like need a real `require` (esbuild's shim throws "Dynamic require" without one), and the
 * two optional native add-ons it tries are left out.
 */
const COMMONJS_IN_ESM: BuildOptions = {
  banner: { js: "import { createRequire as __tetherCreateRequire } from 'node:module'; const require = __tetherCreateRequire(import.meta.url);" },
  alias: { bufferutil: MISSING_OPTIONAL, 'utf-8-validate': MISSING_OPTIONAL },
};

/** Builds dist-electron/main.mjs and dist-electron/preload.cjs; returns the main script's path. */
export async function bundleElectronMain(outDir = ELECTRON_OUT_DIR): Promise<string> {
  const common: BuildOptions = { bundle: true, platform: 'node', target: 'node20', external: ['electron'], logLevel: 'warning', legalComments: 'none' };
  const main = join(outDir, 'main.mjs');
  await Promise.all([
    build({ ...common, entryPoints: [join(ROOT, 'electron', 'main.ts')], format: 'esm', outfile: main, ...COMMONJS_IN_ESM }),
    // Runs in the sandboxed renderer: only `electron` may be required there, so zod and the
    // protocol table are bundled in.
    build({ ...common, entryPoints: [join(ROOT, 'electron', 'preload.ts')], format: 'cjs', platform: 'browser', target: 'chrome130', outfile: join(outDir, 'preload.cjs') }),
  ]);
  return main;
}

/** The Electron binary, or why there is none (an optional dependency, installed without its download here). */
export function electronBinary(env: NodeJS.ProcessEnv = process.env): { path: string } | { reason: string } {
  if (env.TETHER_NO_ELECTRON) return { reason: 'TETHER_NO_ELECTRON is set' };
  try {
    const path = createRequire(import.meta.url)('electron') as unknown;
    if (typeof path === 'string' && existsSync(path)) return { path };
  } catch {
    // electron's index.js throws when its binary was not downloaded
  }
  return { reason: 'the Electron binary is not installed (ELECTRON_SKIP_BINARY_DOWNLOAD)' };
}
