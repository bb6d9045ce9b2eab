/**
 * Static checks of the cluster files admins install: the node template unit passes
 * `systemd-analyze verify` with no warning (the tool exits 0 on unknown keys and bad values, so
 * its output must be empty too), and the example environment file sets only variables the
 * backend reads, with values it accepts. test/cluster/haproxy.test.ts runs haproxy.cfg itself.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BackendEnv, readBackendEnv } from '../../backend/env.js';

const DIR = resolve(import.meta.dirname);
const UNIT = readFileSync(join(DIR, 'tether-backend@.service'), 'utf8');

function has(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

/** KEY=value lines of an environment file, comments and blank lines left out. */
function envFile(text: string): Record<string, string> {
  const entries = text.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('#')).map((line) => {
    const at = line.indexOf('=');
    return [line.slice(0, at), line.slice(at + 1)] as const;
  });
  return Object.fromEntries(entries);
}

describe('cluster files', () => {
  it.skipIf(!has('systemd-analyze'))('tether-backend@.service passes systemd-analyze verify as an instance', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tether-unit-'));
    try {
      // verify insists that ExecStart's program exists; it lives on the target machine, so
      // point it at a stand-in here. Every other line is checked as shipped.
      const stand = join(dir, 'exec');
      writeFileSync(stand, '#!/bin/sh\n');
      chmodSync(stand, 0o755);
      expect(UNIT).toContain('ExecStart=/usr/bin/node ');
      writeFileSync(join(dir, 'tether-backend@.service'), UNIT.replace('ExecStart=/usr/bin/node ', `ExecStart=${stand} `));
      symlinkSync('tether-backend@.service', join(dir, 'tether-backend@a.service'));
      const res = spawnSync('systemd-analyze', ['verify', join(dir, 'tether-backend@a.service')], { encoding: 'utf8' });
      expect(res.stdout + res.stderr).toBe('');
      expect(res.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  if (!has('systemd-analyze')) console.log('skipped systemd-analyze verify: systemd-analyze is not installed on this machine');

  it('the node unit reads its instance\'s settings, keeps its home writable and is hardened', () => {
    const lines = UNIT.split('\n');
    for (const line of ['EnvironmentFile=/etc/tether/node-%i.env', 'Environment=TETHER_HOME=/var/lib/tether-backend/node-%i', 'StateDirectory=tether-backend/node-%i', 'ReadWritePaths=/var/lib/tether-backend/node-%i', 'Restart=on-failure', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'User=tether']) {
      expect(lines).toContain(line);
    }
  });

  it('node.env.example sets the cluster variables, each one the backend reads, with values it accepts', () => {
    const env = envFile(readFileSync(join(DIR, 'node.env.example'), 'utf8'));
    expect(Object.keys(env).sort()).toEqual(['TETHER_DATABASE_URL', 'TETHER_LISTEN', 'TETHER_NATS_URL', 'TETHER_NODE_ID', 'TETHER_PROXY_PROTOCOL_FROM', 'TETHER_PUBLIC_URL']);
    for (const key of Object.keys(env)) expect(Object.keys(BackendEnv.shape)).toContain(key);
    expect(readBackendEnv(env)).toMatchObject(env);
  });
});
