import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TetherError } from '../../protocol/index.js';
import { pickSetting, readServiceConfig } from './service-config.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function configFile(content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tether-cfg-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'backend.json'), content);
  return join(dir, 'backend.json');
}
function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof TetherError ? err.code : String(err);
  }
  return undefined;
}

describe('service config file', () => {
  it('reads settings and resolves relative paths against the file', () => {
    const file = configFile(JSON.stringify({ home: 'data', listen: '127.0.0.1:9443', publicUrl: 'https://fleet.example.com', logLevel: 'warn' }));
    expect(readServiceConfig(file)).toEqual({ home: join(file, '..', 'data'), listen: '127.0.0.1:9443', publicUrl: 'https://fleet.example.com', logLevel: 'warn' });
  });

  it('refuses unknown keys, wrong types, plain http and broken JSON with BAD_REQUEST', () => {
    expect(codeOf(() => readServiceConfig(configFile('{"lisen": "0.0.0.0:1"}')))).toBe('BAD_REQUEST');
    expect(codeOf(() => readServiceConfig(configFile('{"listen": 8443}')))).toBe('BAD_REQUEST');
    expect(codeOf(() => readServiceConfig(configFile('{"publicUrl": "http://x"}')))).toBe('BAD_REQUEST');
    expect(codeOf(() => readServiceConfig(configFile('{')))).toBe('BAD_REQUEST');
    expect(codeOf(() => readServiceConfig('/nonexistent/backend.json'))).toBe('BAD_REQUEST');
  });

  it('lets a flag or TETHER_* variable override the file, and the file override the default', () => {
    expect(pickSetting('flag', 'cli', 'file')).toBe('flag');
    expect(pickSetting('env', 'env', 'file')).toBe('env');
    expect(pickSetting('default', 'default', 'file')).toBe('file');
    expect(pickSetting('default', 'default', undefined)).toBe('default');
    expect(pickSetting<string | undefined>(undefined, undefined, 'file')).toBe('file');
  });
});
