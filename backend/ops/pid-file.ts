import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const PID_FILE = 'backend.pid';

/**
 * Marks the home as in use by this process; `restore` refuses while the mark names a live
 * process. Returns the function that removes it (on close). A stale file left by a crash
 * names a dead process and is ignored.
 */
export function writePidFile(home: string): () => void {
  const file = join(home, PID_FILE);
  writeFileSync(file, `${process.pid}\n`, { mode: 0o600 });
  return () => {
    if (runningBackendPid(home) === process.pid) rmSync(file, { force: true });
  };
}

/** The pid of a live backend using `home`, or undefined. */
export function runningBackendPid(home: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(join(home, PID_FILE), 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    // EPERM: the process exists but belongs to another user (the service user): still running.
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}
