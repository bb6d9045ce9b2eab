import { lstat, realpath } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { TetherError, type ErrorCode } from '../../protocol/errors.js';

/** Where file transfer may read and write when nothing is configured: the agent user's home and /tmp. */
export function defaultFileRoots(): string[] {
  return [homedir(), '/tmp'];
}

/** A device path checked against the roots: `real` has no symlink left and lies inside a root. */
export interface ConfinedPath {
  /** As the client named it (normalised). */
  requested: string;
  real: string;
}

/** A file-system error (errno) as one of our stable codes. */
export function fileError(err: unknown, path: string): TetherError {
  if (err instanceof TetherError) return err;
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
  const message = err instanceof Error ? err.message : String(err);
  const coded: Record<string, ErrorCode> = {
    ENOENT: 'PATH_NOT_FOUND',
    ENOTDIR: 'NOT_A_DIRECTORY',
    EISDIR: 'NOT_A_REGULAR_FILE',
    EACCES: 'FILE_ACCESS_DENIED',
    EPERM: 'FILE_ACCESS_DENIED',
    EROFS: 'FILE_ACCESS_DENIED',
    ENOSPC: 'NO_SPACE',
    EDQUOT: 'NO_SPACE',
    EFBIG: 'NO_SPACE',
    ELOOP: 'PATH_NOT_ALLOWED',
  };
  const mapped = Object.hasOwn(coded, code) ? coded[code] : undefined;
  return new TetherError(mapped ?? 'INTERNAL', mapped ? `${path}: ${code}` : message.slice(0, 512));
}

function inside(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * The roots file transfer is confined to (agent settings `fileRoots`, TETHER_FILE_ROOTS, or
 * {@link defaultFileRoots}), minus the agent's state directory (the installer makes it the agent
 * user's home, so the default roots would otherwise serve the device's private key). Every path is resolved with realpath and must lie inside a root's own
 * realpath, so `..`, a symlink pointing out, or a root that is itself a link cannot lead elsewhere.
 *
 * Known limit: between the check and the open a process on the device could swap a directory for
 * a symlink. Final components are opened with O_NOFOLLOW and new files are created in the checked
 * directory, so only a race by someone who can already write inside a root could redirect a transfer.
 */
export class FileRoots {
  private readonly roots: string[];
  /** The roots as configured and as resolved: a path under neither is refused before any lookup. */
  private readonly named: string[];
  /** Never served, even inside a root: the agent's state directory (its private key, its tokens). */
  private readonly denied: string[];

  /** `denied`: directories refused even inside a root (the agent's state directory). */
  constructor(roots: readonly string[], denied: readonly string[] = []) {
    this.denied = denied.flatMap((dir) => {
      if (!isAbsolute(dir)) return [];
      try {
        return [realpathSync(dir)];
      } catch {
        return [normalize(dir)];
      }
    });
    const absolute = roots.filter((root) => isAbsolute(root)).map((root) => normalize(root));
    // A root that does not exist allows nothing; resolved once, here.
    this.roots = absolute.flatMap((root) => {
      try {
        return [realpathSync(root)];
      } catch {
        return [];
      }
    });
    this.named = [...absolute, ...this.roots];
  }

  get list(): readonly string[] {
    return this.roots;
  }

  /** Lexical checks: absolute, no `..` segment, no NUL; the normalised path. */
  private lexical(path: string): string {
    if (!isAbsolute(path) || path.includes('\0')) throw new TetherError('PATH_NOT_ALLOWED', 'The path must be absolute');
    if (path.split('/').includes('..')) throw new TetherError('PATH_NOT_ALLOWED', 'The path must not contain ".."');
    const normal = normalize(path);
    return normal.length > 1 && normal.endsWith(sep) ? normal.slice(0, -1) : normal;
  }

  private confine(requested: string, real: string): ConfinedPath {
    if (this.denied.some((dir) => inside(real, dir))) throw new TetherError('PATH_NOT_ALLOWED', `${requested} is the agent's own state, which file transfer never serves`);
    if (!this.roots.some((root) => inside(real, root))) {
      const lexicallyInside = this.named.some((root) => inside(requested, root));
      throw new TetherError('PATH_NOT_ALLOWED', lexicallyInside ? `${requested} leads outside the allowed roots through a symlink` : `${requested} is outside the allowed roots (${this.roots.join(', ')})`);
    }
    return { requested, real };
  }

  /** An existing path (file or directory), resolved through symlinks and confined. */
  async existing(path: string): Promise<ConfinedPath> {
    const requested = this.lexical(path);
    // Refused before touching the disk: a path outside every root is not even looked up.
    if (!this.named.some((root) => inside(requested, root))) this.confine(requested, requested);
    let real: string;
    try {
      real = await realpath(requested);
    } catch (err) {
      throw fileError(err, requested);
    }
    return this.confine(requested, real);
  }

  /**
   * A file to be written: its directory must exist inside a root; the name itself, when it exists,
   * must be a regular file (a symlink, device or FIFO there is refused, never followed or replaced).
   */
  async forWrite(path: string): Promise<ConfinedPath & { directory: string; name: string }> {
    const requested = this.lexical(path);
    const parent = await this.existing(dirname(requested));
    const name = basename(requested);
    if (name === '' || requested === '/') throw new TetherError('NOT_A_REGULAR_FILE', 'The path names no file');
    const real = join(parent.real, name);
    try {
      const stat = await lstat(real);
      if (stat.isSymbolicLink()) throw new TetherError('NOT_A_REGULAR_FILE', `${requested} is a symlink; it is not replaced`);
      if (!stat.isFile()) throw new TetherError('NOT_A_REGULAR_FILE', `${requested} exists and is not a regular file`);
    } catch (err) {
      if (!(typeof err === 'object' && err !== null && 'code' in err && err.code === 'ENOENT')) throw fileError(err, requested);
    }
    return { requested, real, directory: parent.real, name };
  }
}
