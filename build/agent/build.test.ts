import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAgentBundle, type AgentBundle } from './build.js';

describe('agent bundle', () => {
  const out = mkdtempSync(join(tmpdir(), 'tether-bundle-'));
  let bundle: AgentBundle;
  let source: string;

  beforeAll(async () => {
    bundle = await buildAgentBundle(out);
    source = readFileSync(join(bundle.dir, 'tether-agent.mjs'), 'utf8');
  }, 60_000);

  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('ships systeminformation and node-forge beside the bundle, loadable from it, not inside it', () => {
    for (const name of ['systeminformation', 'node-forge']) {
      expect(existsSync(join(bundle.dir, 'node_modules', name, 'package.json'))).toBe(true);
      expect(source).toContain(`import("${name}")`);
      const probe = join(bundle.dir, `probe-${name}.mjs`);
      writeFileSync(probe, `const m = await import('${name}'); process.stdout.write(typeof m.default);\n`);
      expect(spawnSync(process.execPath, [probe], { encoding: 'utf8' }).stdout).toBe('object');
      rmSync(probe);
    }
    // A marker of each library's own code.
    expect(source).not.toContain('lib_version');
    expect(source).not.toContain('createCertificationRequest=');
  });

  it('keeps zod English only, and its messages still read in English', () => {
    // The Indonesian locale's message (ASCII, as esbuild escapes the others).
    expect(source).not.toContain('Input tidak valid');
    const state = join(out, 'state');
    mkdirSync(state);
    writeFileSync(join(state, 'state.json'), '{"deviceId": 5}');
    const res = spawnSync(process.execPath, [join(bundle.dir, 'tether-agent.mjs'), 'run', '--state', state], { encoding: 'utf8' });
    expect(res.stderr).toContain('Invalid input: expected string, received number');
  });
});
