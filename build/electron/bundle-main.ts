/**
 * Bundles the Electron main process (electron/main.ts and what it imports) into one ESM file,
 * since Electron does not run TypeScript. Used by `npm start` and the Electron e2e tests.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '..', '..');

export async function bundleElectronMain(outfile = join(ROOT, '.cache', 'electron', 'main.mjs')): Promise<string> {
  await build({
    entryPoints: [join(ROOT, 'electron', 'main.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['electron'],
    outfile,
    logLevel: 'warning',
  });
  return outfile;
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
