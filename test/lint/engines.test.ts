import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
// npm's own semver (a dependency of the toolchain, untyped): the same check npm makes for EBADENGINE.
const semver = createRequire(import.meta.url)('semver') as { satisfies(version: string, range: string): boolean; minVersion(range: string): { version: string } | null };

interface Lock { packages: Record<string, { version?: string; engines?: { node?: string } | string[] }> }

describe('package-lock.json', () => {
  it('holds no package whose engines exclude the oldest Node this package supports (no EBADENGINE on install)', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    const oldest = semver.minVersion(pkg.engines.node)?.version;
    expect(oldest).toMatch(/^20\./);
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as Lock;
    const refusing = Object.entries(lock.packages).flatMap(([path, entry]) => {
      const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
      return range && !semver.satisfies(oldest ?? '', range) ? [`${path}@${entry.version ?? '?'} wants node ${range}`] : [];
    });
    expect(refusing).toEqual([]);
  });
});
