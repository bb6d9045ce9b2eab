import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CliError } from './cli-error.js';
import { credentialsPath, loadCredentials, removeCredentials, saveCredentials, type Credentials } from './credentials.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function temp(): string {
  const d = mkdtempSync(join(tmpdir(), 'tether-cli-'));
  dirs.push(d);
  return d;
}

const sample: Credentials = {
  url: 'https://fleet.example.com:8443',
  caPin: `sha256:${'ab'.repeat(32)}`,
  caCertPem: '-----BEGIN CERTIFICATE-----\n…\n-----END CERTIFICATE-----\n',
  username: 'tech',
  token: 'secret-token',
  expiresAt: 1,
};

describe('credentials file', () => {
  it('lives under $XDG_CONFIG_HOME/tether when set to an absolute path, else ~/.config/tether', () => {
    expect(credentialsPath({ XDG_CONFIG_HOME: '/x/conf' })).toBe('/x/conf/tether/credentials.json');
    expect(credentialsPath({ XDG_CONFIG_HOME: 'relative' })).toMatch(/\.config\/tether\/credentials\.json$/);
  });

  it('is written 0600 in a 0700 directory whatever the umask, and an existing wider directory is narrowed', () => {
    const base = temp();
    mkdirSync(join(base, 'tether'), { mode: 0o755 });
    const path = join(base, 'tether', 'credentials.json');
    const umask = process.umask(0o000);
    try {
      saveCredentials(path, sample);
    } finally {
      process.umask(umask);
    }
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(base, 'tether')).mode & 0o777).toBe(0o700);
    expect(loadCredentials(path)).toEqual(sample);
  });

  it('missing or corrupt: UNAUTHORIZED, asking for a login', () => {
    const path = join(temp(), 'credentials.json');
    expect(() => loadCredentials(path)).toThrow(CliError);
    expect((() => { try { loadCredentials(path); } catch (e) { return (e as CliError).code; } })()).toBe('UNAUTHORIZED');
    writeFileSync(path, '{"url": 1}');
    expect((() => { try { loadCredentials(path); } catch (e) { return (e as CliError).code; } })()).toBe('UNAUTHORIZED');
  });

  it('remove deletes the file once', () => {
    const path = join(temp(), 't', 'credentials.json');
    saveCredentials(path, sample);
    expect(removeCredentials(path)).toBe(true);
    expect(removeCredentials(path)).toBe(false);
  });
});
