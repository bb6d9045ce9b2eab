import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAgentBundle } from '../../build/agent/build.js';
import { api, cleanup, deviceOf, FAST_AGENT_ENV, login, Proc, startBackend, tempDir, waitFor, type Backend } from '../harness.js';

function run(command: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(command, args, { env: { ...process.env, ...env }, timeout: 90_000 }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Starts the installed agent by hand, as systemd's ExecStart would (there is no systemd here). */
function startInstalled(root: string): Proc {
  const child = execFile(join(root, 'opt/tether-agent/bin/tether-agent'), ['run', '--state', join(root, 'var/lib/tether-agent')], { env: { ...process.env, ...FAST_AGENT_ENV, TETHER_JOURNAL: '0' } });
  return new Proc(child, 'installed-agent');
}

describe('install.sh', () => {
  let backend: Backend | undefined;
  let agent: Proc | undefined;
  const dirs: string[] = [];

  beforeAll(async () => {
    // The bundle the backend serves, built from the sources under test.
    await buildAgentBundle();
  });

  afterAll(async () => {
    await agent?.stop();
    await backend?.stop();
    cleanup(...dirs, backend?.home ?? '');
  });

  it('installs into a throwaway root, registers and connects; a rerun upgrades and keeps the identity; --uninstall leaves nothing', { timeout: 180_000 }, async () => {
    backend = await startBackend();
    const admin = await login(backend);
    const created = await api(backend, 'POST', '/api/v1/tokens', { token: admin, body: { uses: 1 } });
    const { token, installCommand } = created.body as { token: string; installCommand: string };
    expect(installCommand).toBe(`curl -fsSk ${backend.url}/install.sh | sudo sh -s -- --backend ${backend.url} --token ${token} --ca-pin ${backend.caPin}`);

    // The verified two-step variant from the README: fetch install.sh trusting only the pinned CA.
    const work = tempDir('install');
    dirs.push(work);
    writeFileSync(join(work, 'ca.crt'), backend.caCertPem);
    const fetched = await run('curl', ['-fsS', '--cacert', join(work, 'ca.crt'), `${backend.url}/install.sh`, '-o', join(work, 'install.sh')]);
    expect(fetched.code, fetched.stderr).toBe(0);
    const script = join(work, 'install.sh');
    const root = join(work, 'root');

    // A wrong pin stops before anything is downloaded or installed.
    const wrongPin = `sha256:${'0'.repeat(64)}`;
    const refused = await run('sh', [script, '--backend', backend.url, '--token', token, '--ca-pin', wrongPin, '--prefix', root, '--no-start']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('CA_PIN_MISMATCH');
    expect(existsSync(join(root, 'opt/tether-agent'))).toBe(false);

    const installed = await run('sh', [script, '--backend', backend.url, '--token', token, '--ca-pin', backend.caPin, '--prefix', root, '--no-start', '--name', 'installed']);
    expect(installed.code, installed.stdout + installed.stderr).toBe(0);
    expect(installed.stdout).toContain('backend CA matches the pin');
    expect(installed.stdout).toContain('not creating the tether-agent user (--prefix given)');
    expect(readFileSync(join(root, 'etc/systemd/system/tether-agent.service'), 'utf8')).toContain('ExecStart=/opt/tether-agent/bin/tether-agent run --state /var/lib/tether-agent');
    expect(statSync(join(root, 'var/lib/tether-agent')).mode & 0o777).toBe(0o700);
    expect(statSync(join(root, 'var/lib/tether-agent/device.key')).mode & 0o777).toBe(0o600);
    const deviceId = (JSON.parse(readFileSync(join(root, 'var/lib/tether-agent/state.json'), 'utf8')) as { deviceId: string }).deviceId;
    // ws in the bundle masks the frames it sends natively: bufferutil's prebuilt binary loads from the installed tree
    // (prebuilt for linux-x64, darwin and win32; elsewhere ws uses bufferutil's JS fallback).
    if (process.platform === 'linux' && process.arch === 'x64') {
      const bundle = join(root, 'opt/tether-agent/tether-agent.mjs');
      const masking = await run(process.execPath, ['-e', `const mask = require('node:module').createRequire(${JSON.stringify(bundle)})('bufferutil').mask; process.stdout.write(String(mask).includes('[native code]') ? 'native' : 'js')`]);
      expect(masking.stdout, masking.stderr).toBe('native');
    }

    agent = startInstalled(root);
    await waitFor(async () => (await deviceOf(backend!, admin, deviceId))?.online === true, 30_000, 'the installed agent online');
    expect((await deviceOf(backend, admin, deviceId))?.name).toBe('installed');
    await agent.stop();

    // Upgrade: no token (it is used up anyway), same identity, no second device.
    const upgraded = await run('sh', [script, '--backend', backend.url, '--ca-pin', backend.caPin, '--prefix', root, '--no-start']);
    expect(upgraded.code, upgraded.stdout + upgraded.stderr).toBe(0);
    expect(upgraded.stdout).toContain("keeping this device's identity");
    expect((JSON.parse(readFileSync(join(root, 'var/lib/tether-agent/state.json'), 'utf8')) as { deviceId: string }).deviceId).toBe(deviceId);
    agent = startInstalled(root);
    await waitFor(async () => (await deviceOf(backend!, admin, deviceId))?.online === true, 30_000, 'the upgraded agent online');
    const devices = await api(backend, 'GET', '/api/v1/devices', { token: admin });
    expect((devices.body as { devices: unknown[] }).devices).toHaveLength(1);
    await agent.stop();

    const removed = await run('sh', [script, '--uninstall', '--prefix', root]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(readdirSync(root)).toEqual([]);
  });
});
