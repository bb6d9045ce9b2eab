import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Replaces `path` with `content` so that a crash at any moment leaves either the old file or the
 * new one, never a mix: write a temporary file, fsync it, rename over the target, fsync the directory
 * (the rename itself is only durable once the directory entry is on disk).
 *
 * electron/atomic-file.ts is its desktop twin: ARCHITECTURE §1 lets neither folder import the
 * other, and protocol/, the one folder both may import, is pure (no node:fs).
 */
export function writeFileAtomic(path: string, content: string, mode = 0o600): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  syncDirectory(dirname(path));
}

function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic there.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
