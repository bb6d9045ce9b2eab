import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TetherError } from '../../protocol/errors.js';
import { FileRoots } from './file-roots.js';

const base = mkdtempSync(join(tmpdir(), 'tether-roots-'));
const root = join(base, 'root');
const outside = join(base, 'outside');
mkdirSync(join(root, 'sub'), { recursive: true });
mkdirSync(outside);
writeFileSync(join(root, 'sub', 'file.txt'), 'x');
writeFileSync(join(outside, 'secret.txt'), 'y');
symlinkSync(outside, join(root, 'out-link'));
symlinkSync(join(root, 'sub'), join(root, 'in-link'));
symlinkSync(root, join(base, 'root-link'));

const roots = new FileRoots([root, join(base, 'missing-root'), 'relative/root']);

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (err) {
    return err instanceof TetherError ? err.code : String(err);
  }
}

afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('FileRoots', () => {
  it('keeps only absolute roots that exist, resolved', () => {
    expect(roots.list).toEqual([root]);
  });

  it('resolves paths inside a root, following symlinks that stay inside', async () => {
    await expect(roots.existing(join(root, 'sub', 'file.txt'))).resolves.toEqual({ requested: join(root, 'sub', 'file.txt'), real: join(root, 'sub', 'file.txt') });
    await expect(roots.existing(join(root, 'in-link', 'file.txt'))).resolves.toMatchObject({ real: join(root, 'sub', 'file.txt') });
    await expect(roots.existing(`${root}/`)).resolves.toMatchObject({ real: root });
  });

  it('refuses .., symlinks leading out, other places and relative paths with PATH_NOT_ALLOWED', async () => {
    expect(await codeOf(roots.existing(`${root}/sub/../sub/file.txt`))).toBe('PATH_NOT_ALLOWED');
    expect(await codeOf(roots.existing(`${root}/../outside/secret.txt`))).toBe('PATH_NOT_ALLOWED');
    expect(await codeOf(roots.existing(join(root, 'out-link', 'secret.txt')))).toBe('PATH_NOT_ALLOWED');
    expect(await codeOf(roots.existing(join(outside, 'secret.txt')))).toBe('PATH_NOT_ALLOWED');
    expect(await codeOf(roots.existing('/etc/passwd'))).toBe('PATH_NOT_ALLOWED');
    expect(await codeOf(roots.existing('sub/file.txt'))).toBe('PATH_NOT_ALLOWED');
    expect(await codeOf(roots.existing(`${root}/a\0b`))).toBe('PATH_NOT_ALLOWED');
    // Outside every root: refused before the lookup, so a missing file there is not revealed either.
    expect(await codeOf(roots.existing('/etc/no-such-file'))).toBe('PATH_NOT_ALLOWED');
  });

  it('answers PATH_NOT_FOUND only inside a root', async () => {
    expect(await codeOf(roots.existing(join(root, 'nothing')))).toBe('PATH_NOT_FOUND');
  });

  it('never serves the agent\'s state directory, even inside a root', async () => {
    mkdirSync(join(root, 'state'));
    writeFileSync(join(root, 'state', 'state.json'), '{"keyPem":"…"}');
    const guarded = new FileRoots([root], [join(root, 'state')]);
    expect(await codeOf(guarded.existing(join(root, 'state', 'state.json')))).toBe('PATH_NOT_ALLOWED');
    expect(await codeOf(guarded.existing(join(root, 'state')))).toBe('PATH_NOT_ALLOWED');
    expect(await codeOf(guarded.existing(join(root, 'in-link', '..', 'state', 'state.json')))).toBe('PATH_NOT_ALLOWED');
    expect(await codeOf(guarded.forWrite(join(root, 'state', 'planted.json')))).toBe('PATH_NOT_ALLOWED');
    await expect(guarded.existing(join(root, 'sub', 'file.txt'))).resolves.toBeTruthy();
  });

  it('accepts a root named through a symlink', async () => {
    const linked = new FileRoots([join(base, 'root-link')]);
    await expect(linked.existing(join(base, 'root-link', 'sub', 'file.txt'))).resolves.toMatchObject({ real: join(root, 'sub', 'file.txt') });
  });

  it('confines writes to an existing directory and refuses replacing a symlink or a directory', async () => {
    await expect(roots.forWrite(join(root, 'sub', 'new.txt'))).resolves.toEqual({ requested: join(root, 'sub', 'new.txt'), real: join(root, 'sub', 'new.txt'), directory: join(root, 'sub'), name: 'new.txt' });
    expect(await codeOf(roots.forWrite(join(root, 'no-dir', 'new.txt')))).toBe('PATH_NOT_FOUND');
    expect(await codeOf(roots.forWrite(join(root, 'out-link', 'new.txt')))).toBe('PATH_NOT_ALLOWED');
    expect(await codeOf(roots.forWrite(join(root, 'in-link')))).toBe('NOT_A_REGULAR_FILE');
    expect(await codeOf(roots.forWrite(join(root, 'sub')))).toBe('NOT_A_REGULAR_FILE');
    expect(await codeOf(roots.forWrite('/'))).toBe('PATH_NOT_ALLOWED');
  });
});
