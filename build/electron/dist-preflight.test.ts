import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it, vi } from 'vitest';
import { planDist, runDist, type DistEnvironment, type DistSteps } from './dist-preflight.js';

const NO_BINARY = { reason: 'the Electron binary is not installed (ELECTRON_SKIP_BINARY_DOWNLOAD)' };
const env = (over: Partial<DistEnvironment> = {}): DistEnvironment => ({ electronVersion: '41.7.1', binary: NO_BINARY, electronDistOverride: undefined, offline: false, ...over });

describe('planDist', () => {
  it('says the electron package is missing', () => {
    const plan = planDist(env({ electronVersion: null }));
    expect(plan.ok === false && plan.message).toMatch(/`electron` npm package is not installed.*npm install/);
  });

  it('says what is missing and how to fix it when there is no binary and no download', () => {
    const plan = planDist(env({ offline: true }));
    expect(plan.ok).toBe(false);
    if (plan.ok) return;
    expect(plan.message).toContain('no Electron 41.7.1 binary is available (the Electron binary is not installed (ELECTRON_SKIP_BINARY_DOWNLOAD))');
    expect(plan.message).toContain('TETHER_ELECTRON_DIST');
  });

  it('uses a local Electron when there is one, the override first', () => {
    expect(planDist(env({ binary: { path: '/repo/node_modules/electron/dist/electron' } }))).toMatchObject({ ok: true, electronDist: '/repo/node_modules/electron/dist' });
    expect(planDist(env({ binary: { path: '/x/electron' }, electronDistOverride: '/opt/electron-41' }))).toMatchObject({ ok: true, electronDist: '/opt/electron-41' });
    expect(planDist(env())).toMatchObject({ ok: true, electronDist: null });
  });
});

function steps(environment: DistEnvironment, packageApp: DistSteps['packageApp'] = async () => ['release/Tether-0.1.0.AppImage']) {
  const order: string[] = [];
  const s: DistSteps = {
    environment: () => environment,
    buildRenderer: vi.fn(async () => void order.push('renderer')),
    bundleMain: vi.fn(async () => void order.push('main')),
    packageApp: vi.fn(async (dist: string | null) => {
      order.push(`package:${dist}`);
      return packageApp(dist);
    }),
    log: vi.fn(),
    error: vi.fn(),
  };
  return { s, order };
}

describe('runDist', () => {
  it('exits 1 with the message before building anything when Electron cannot be had', async () => {
    const { s, order } = steps(env({ offline: true }));
    expect(await runDist(s)).toBe(1);
    expect(order).toEqual([]);
    expect(s.error).toHaveBeenCalledWith(expect.stringMatching(/^Cannot package the desktop app: no Electron 41\.7\.1 binary/));
  });

  it('exits 1 with a clear message when electron-builder cannot download Electron', async () => {
    const { s, order } = steps(env(), async () => {
      throw new Error('getaddrinfo ENOTFOUND github.com');
    });
    expect(await runDist(s)).toBe(1);
    expect(order).toEqual(['renderer', 'main', 'package:null']);
    expect(s.error).toHaveBeenCalledWith(expect.stringContaining('no local binary, and the download failed: getaddrinfo ENOTFOUND github.com'));
  });

  it('builds the renderer, then the main bundle, then packages, and exits 0', async () => {
    const { s, order } = steps(env({ binary: { path: '/e/dist/electron' } }));
    expect(await runDist(s)).toBe(0);
    expect(order).toEqual(['renderer', 'main', 'package:/e/dist']);
  });
});

describe('electron-builder.json', () => {
  const root = resolve(import.meta.dirname, '..', '..');
  const config = JSON.parse(readFileSync(resolve(root, 'electron-builder.json'), 'utf8')) as Record<string, unknown> & { files: string[] };
  const schema = JSON.parse(readFileSync(resolve(root, 'node_modules/app-builder-lib/scheme.json'), 'utf8')) as object;
  const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

  it("is valid against electron-builder's own schema (and the check can fail)", () => {
    expect(validate(config), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...config, appId: 42 })).toBe(false);
  });

  it('targets AppImage and deb, NSIS and dmg, with an id and a product name', () => {
    expect(config).toMatchObject({
      appId: 'dev.tether.console',
      productName: 'Tether',
      linux: { target: ['AppImage', 'deb'] },
      win: { target: ['nsis'] },
      mac: { target: ['dmg'] },
      extraMetadata: { main: 'dist-electron/main.mjs' },
    });
  });

  it('packs only the bundled main, the preload and the console bundle: no sources, tests or node_modules', () => {
    const included = config.files.filter((pattern) => !pattern.startsWith('!'));
    expect(included).toEqual(['dist-electron/main.mjs', 'dist-electron/preload.cjs', 'renderer/dist/**/*', 'package.json']);
    expect(config.files).toContain('!node_modules/**/*');
    expect(config.files).toContain('!**/*.map');
  });
});
