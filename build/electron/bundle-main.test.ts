import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleElectronMain } from './bundle-main.js';

// The package ships dist-electron/ and renderer/dist/ without node_modules (electron-builder.json),
// so the bundles may load nothing but Electron and Node's own modules.
let dir: string;
let main: string;
let preload: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tether-bundle-'));
  await bundleElectronMain(dir);
  main = readFileSync(join(dir, 'main.mjs'), 'utf8');
  preload = readFileSync(join(dir, 'preload.cjs'), 'utf8');
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const builtins = new Set(builtinModules);

describe('the Electron bundles', () => {
  it('main imports only electron and Node builtins', () => {
    const specifiers = [...main.matchAll(/(?:^|[;\s])import\s[^'"]*?from\s*["']([^"']+)["']|import\(["']([^"']+)["']\)|require\(["']([^"']+)["']\)/g)].map((m) => m[1] ?? m[2] ?? m[3]);
    expect(specifiers.length).toBeGreaterThan(0);
    for (const specifier of specifiers) {
      expect(specifier === 'electron' || specifier?.startsWith('node:') || builtins.has(specifier ?? ''), specifier).toBe(true);
    }
  });

  it('the sandboxed preload requires only electron and exposes the bridge, not ipcRenderer', () => {
    expect([...new Set([...preload.matchAll(/require\(["']([^"']+)["']\)/g)].map((m) => m[1]))]).toEqual(['electron']);
    expect(preload.match(/exposeInMainWorld\(/g)).toHaveLength(1);
    expect(preload).toContain('"tetherDesktop"');
    expect(preload).not.toMatch(/exposeInMainWorld\([^)]*ipcRenderer\s*\)/);
  });
});

describe('electron/main.ts', () => {
  const source = readFileSync(join(import.meta.dirname, '..', '..', 'electron', 'main.ts'), 'utf8');

  it('registers IPC only through the checked desktop channels', () => {
    expect(source.match(/ipcMain\.\w+\(/g)).toEqual(['ipcMain.handle(']);
    expect(source).toContain('ipcMain.handle(channel, handler);');
    expect(source).toContain('for (const [channel, handler] of createDesktopChannels(handlers, ');
  });
});
