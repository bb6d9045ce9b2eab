/**
 * `npm run dist`: builds the console bundle and the Electron main + preload, then packages the
 * desktop app for this host with electron-builder (electron-builder.json: AppImage and deb on
 * Linux, NSIS on Windows, dmg on macOS) into release/. Decisions are in dist-preflight.ts.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { bundleElectronMain, electronBinary } from './bundle-main.js';
import { runDist } from './dist-preflight.js';

const ROOT = resolve(import.meta.dirname, '..', '..');

function electronVersion(): string | null {
  try {
    const path = createRequire(import.meta.url).resolve('electron/package.json');
    const { version } = JSON.parse(readFileSync(path, 'utf8')) as { version?: unknown };
    return typeof version === 'string' ? version : null;
  } catch {
    return null;
  }
}

const code = await runDist({
  environment: () => ({
    electronVersion: electronVersion(),
    binary: electronBinary(),
    electronDistOverride: process.env.TETHER_ELECTRON_DIST,
    // ELECTRON_SKIP_BINARY_DOWNLOAD: whoever installed without the binary did not want Electron downloaded.
    offline: ['ELECTRON_BUILDER_OFFLINE', 'TETHER_OFFLINE', 'ELECTRON_SKIP_BINARY_DOWNLOAD'].some((name) => process.env[name] === '1'),
  }),
  buildRenderer: async () => {
    execFileSync('npm', ['run', 'build:console'], { cwd: ROOT, stdio: 'inherit' });
  },
  bundleMain: async () => {
    await bundleElectronMain();
  },
  packageApp: async (electronDist) => {
    // Imported late: it is heavy and only this step needs it.
    const { build } = await import('electron-builder');
    // The options object is merged over electron-builder.json in the project directory.
    return build({ projectDir: ROOT, publish: 'never', config: electronDist === null ? {} : { electronDist } });
  },
  log: (message) => console.log(message),
  error: (message) => console.error(message),
});
process.exit(code);
