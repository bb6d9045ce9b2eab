import { existsSync, readFileSync } from 'node:fs';
import { WindowState } from '../protocol/index.js';
import { writeFileAtomic } from './atomic-file.js';

/** The remembered window state, or null when there is none or it does not parse (then the defaults apply). */
export function readWindowState(file: string): WindowState | null {
  if (!existsSync(file)) return null;
  try {
    const parsed = WindowState.safeParse(JSON.parse(readFileSync(file, 'utf8')) as unknown);
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export function writeWindowState(file: string, state: WindowState): void {
  writeFileAtomic(file, `${JSON.stringify(WindowState.parse(state))}\n`);
}
