import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentSettingsStore } from './agent-settings.js';
import { ConfigApplier, resolveHookPath } from './config-applier.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function setup(hookScript?: string, hookTimeoutMs = 5_000) {
  const stateDir = mkdtempSync(join(tmpdir(), 'tether-applier-'));
  dirs.push(stateDir);
  let hookPath: string | null = null;
  if (hookScript !== undefined) {
    hookPath = join(stateDir, 'hook.sh');
    writeFileSync(hookPath, `#!/bin/sh\n${hookScript}\n`);
    chmodSync(hookPath, 0o755);
  }
  const settings = new AgentSettingsStore();
  const applier = new ConfigApplier({ stateDir, log: pino({ level: 'silent' }), settings, hookPath, hookTimeoutMs });
  applier.load();
  const file = () => (existsSync(join(stateDir, 'config', 'config.json')) ? (JSON.parse(readFileSync(join(stateDir, 'config', 'config.json'), 'utf8')) as unknown) : null);
  return { stateDir, settings, applier, file };
}

describe('ConfigApplier', () => {
  it('writes the config, runs the hook with the file, and updates settings live', async () => {
    const { applier, settings, file, stateDir } = setup('grep -q "\\"port\\": 80" "$1" && [ "$TETHER_CONFIG_VERSION" = "3" ]');
    const changes: unknown[] = [];
    settings.subscribe((next) => changes.push(next));
    const report = await applier.apply({ version: 3, config: { app: { port: 80 }, agent: { samplingIntervalMs: 1000 } } });
    expect(report).toEqual({ version: 3, status: 'applied', error: null });
    expect(file()).toEqual({ version: 3, config: { app: { port: 80 }, agent: { samplingIntervalMs: 1000 } } });
    expect(changes).toEqual([{ samplingIntervalMs: 1000 }]);
    // Settings survive a restart: a new applier loads the last good config.
    const again = new AgentSettingsStore();
    new ConfigApplier({ stateDir, log: pino({ level: 'silent' }), settings: again, hookPath: null }).load();
    expect(again.get()).toEqual({ samplingIntervalMs: 1000 });
  });

  it('restores the last good config when the hook fails, and reports why', async () => {
    const { applier, file, settings } = setup('if grep -q broken "$1"; then echo "bad value" >&2; exit 3; fi');
    await applier.apply({ version: 1, config: { app: { v: 'good' }, agent: { shellUser: 'tether' } } });
    const report = await applier.apply({ version: 2, config: { app: { v: 'broken' }, agent: { shellUser: 'root' } } });
    expect(report).toEqual({ version: 2, status: 'failed', error: 'apply hook exited with 3: bad value' });
    expect(file()).toEqual({ version: 1, config: { app: { v: 'good' }, agent: { shellUser: 'tether' } } });
    expect(settings.get()).toEqual({ shellUser: 'tether' });
  });

  it('kills a hook that overruns its timeout and counts it as failed; with no earlier config the file is removed', async () => {
    const { applier, file } = setup('sleep 5', 200);
    const report = await applier.apply({ version: 1, config: { app: {} } });
    expect(report.status).toBe('failed');
    expect(report.error).toMatch(/timed out after 200 ms/);
    expect(file()).toBeNull();
  });

  it('rejects a config that fails validation, without writing or running anything', async () => {
    const { applier, file } = setup('exit 0');
    expect(await applier.apply({ version: 4, config: { agent: { samplingIntervalMs: 1 } } })).toMatchObject({ version: 4, status: 'rejected' });
    expect(await applier.apply({ version: 5, config: 'nope' })).toMatchObject({ version: 5, status: 'rejected' });
    expect(await applier.apply(null)).toMatchObject({ version: 0, status: 'rejected' });
    expect(file()).toBeNull();
  });

  it('applies in arrival order, one at a time', async () => {
    const { applier, file } = setup('sleep 0.1');
    const reports = await Promise.all([1, 2, 3].map((version) => applier.apply({ version, config: { app: { version } } })));
    expect(reports.map((r) => r.version)).toEqual([1, 2, 3]);
    expect(file()).toMatchObject({ version: 3 });
    expect(applier.appliedVersion).toBe(3);
  });

  it('finds the hook in the env, else in the state dir', () => {
    const { stateDir } = setup();
    expect(resolveHookPath(stateDir)).toBeNull();
    writeFileSync(join(stateDir, 'apply-hook'), '#!/bin/sh\n');
    expect(resolveHookPath(stateDir)).toBe(join(stateDir, 'apply-hook'));
    expect(resolveHookPath(stateDir, '/opt/hook')).toBe('/opt/hook');
  });
});
