import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AgentEnv } from '../../agent/env.js';
import { BackendEnv } from '../../backend/env.js';
import { StartEnv } from '../../bin/start.js';
import { ROOT } from '../harness.js';

function run(bin: string, args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [join(ROOT, 'bin', `${bin}.js`), ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const names = (schema: { shape: Record<string, unknown> }) => Object.keys(schema.shape);

describe('environment variables: one schema per process, listed by --help', () => {
  it.each([
    ['tether-backend', ['--help'], names(BackendEnv)],
    ['tether-backend', ['serve', '--help'], names(BackendEnv)],
    ['tether-agent', ['--help'], names(AgentEnv)],
    ['tether-agent', ['run', '--help'], names(AgentEnv)],
    ['tether-start', ['--help'], [...names(StartEnv), ...names(BackendEnv), ...names(AgentEnv)]],
  ])('%s %s names every variable with its meaning', (bin, args, variables) => {
    const res = run(bin, args);
    expect(res.code, res.stderr).toBe(0);
    for (const name of variables) expect(res.stdout, name).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
  });

  it.each([
    ['tether-backend', ['ca', 'pin', '--home', '/nonexistent'], { TETHER_SHELL_IDLE_MS: '30s' }, 'TETHER_SHELL_IDLE_MS="30s": must be a positive whole number'],
    ['tether-backend', ['serve', '--home', '/nonexistent'], { TETHER_PUBLIC_URL: 'http://fleet.example.com' }, 'TETHER_PUBLIC_URL="http://fleet.example.com": must be an https:// URL'],
    ['tether-backend', ['ca', 'pin', '--home', '/nonexistent'], { TETHER_DATABASE_URL: 'mysql://db/tether' }, 'TETHER_DATABASE_URL="mysql://db/tether": must be a postgres:// URL'],
    ['tether-backend', ['ca', 'pin', '--home', '/nonexistent'], { TETHER_PROXY_PROTOCOL_FROM: '10.0.0.5,haproxy.internal' }, 'TETHER_PROXY_PROTOCOL_FROM="10.0.0.5,haproxy.internal": must be addresses and CIDRs, comma-separated (10.0.0.5,10.0.0.0/24,fd00::/64)'],
    ['tether-agent', ['status', '--state', '/nonexistent'], { TETHER_TELEMETRY_INTERVAL_MS: '-1' }, 'TETHER_TELEMETRY_INTERVAL_MS="-1": must be a positive whole number'],
    ['tether-agent', ['run', '--state', '/nonexistent'], { TETHER_JOURNAL: 'off' }, 'TETHER_JOURNAL="off": must be 0 or 1'],
    ['tether-start', [], { TETHER_SPOOL_MAX_BYTES: 'lots' }, 'TETHER_SPOOL_MAX_BYTES="lots": must be a positive whole number'],
  ])('%s %s refuses a bad variable with a coded error before doing anything', (bin, args, env, message) => {
    const res = run(bin, args, env);
    expect(res.code).toBe(1);
    expect(res.stderr).toBe(`error BAD_REQUEST: ${message}\n`);
  });
});
