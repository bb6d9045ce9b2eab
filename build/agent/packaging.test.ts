/**
 * Static checks of what ships to servers and devices: install.sh and the launcher are clean
 * POSIX sh (shellcheck), and both systemd units pass `systemd-analyze verify` with no warning
 * (the tool exits 0 on unknown keys and bad values, so its output must be empty too).
 * Where a tool is missing the check is skipped with the reason printed.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');

function has(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

describe('packaging', () => {
  it.skipIf(!has('shellcheck'))('install.sh and the agent launcher pass shellcheck as POSIX sh', () => {
    const res = spawnSync('shellcheck', ['-s', 'sh', '-S', 'style', join(ROOT, 'build/agent/install.sh'), join(ROOT, 'build/agent/tether-agent')], { encoding: 'utf8' });
    expect(res.stdout + res.stderr).toBe('');
    expect(res.status).toBe(0);
  });
  if (!has('shellcheck')) console.log('skipped shellcheck: not installed (apt-get install -y shellcheck; .ci/run installs it)');

  const units = [
    { file: 'build/backend/tether-backend.service', exec: '/usr/bin/node' },
    { file: 'build/agent/tether-agent.service', exec: '/opt/tether-agent/bin/tether-agent' },
  ];
  for (const unit of units) {
    it.skipIf(!has('systemd-analyze'))(`${unit.file} passes systemd-analyze verify`, () => {
      const dir = mkdtempSync(join(tmpdir(), 'tether-unit-'));
      try {
        // verify insists that ExecStart's program exists; it lives on the target machine, so
        // point it at a stand-in here. Every other line is checked as shipped.
        const stand = join(dir, 'exec');
        writeFileSync(stand, '#!/bin/sh\n');
        chmodSync(stand, 0o755);
        const text = readFileSync(join(ROOT, unit.file), 'utf8');
        expect(text).toContain(`ExecStart=${unit.exec} `);
        const target = join(dir, unit.file.split('/').pop() ?? 'x.service');
        writeFileSync(target, text.replace(`ExecStart=${unit.exec} `, `ExecStart=${stand} `));
        const res = spawnSync('systemd-analyze', ['verify', target], { encoding: 'utf8' });
        expect(res.stdout + res.stderr).toBe('');
        expect(res.status).toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
  if (!has('systemd-analyze')) console.log('skipped systemd-analyze verify: systemd-analyze is not installed on this machine');

  it('the agent unit is hardened and restarts on failure but not after a final refusal', () => {
    const text = readFileSync(join(ROOT, 'build/agent/tether-agent.service'), 'utf8');
    for (const line of ['Restart=on-failure', 'RestartPreventExitStatus=3', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'ReadWritePaths=/var/lib/tether-agent', 'PrivateTmp=yes', 'User=tether-agent']) {
      expect(text.split('\n')).toContain(line);
    }
  });
});

