import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Writes a whole file or nothing: a temporary file beside it, then a rename, so a crash
 * mid-write never leaves half a profiles or token file. Owner-only, since these hold secrets
 * or the user's backend list.
 *
 * agent/config/atomic-file.ts does the same for the agent (with fsyncs, for power loss on
 * devices). They stay two: ARCHITECTURE §1 lets neither folder import the other, and the one
 * folder both may import, protocol/, is pure and cannot hold file-system code.
 */
export function writeFileAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode: 0o600 });
  renameSync(temporary, path);
}
