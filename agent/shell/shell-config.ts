import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';

/** What an interactive session runs on this device: configured by the device owner, not the console. */
export interface ShellConfig {
  shell: string;
  args: string[];
  /** Run as another user (needs the agent to run as root). */
  uid?: number;
  gid?: number;
  cwd: string;
}

/**
 * The shell program (TETHER_SHELL, else $SHELL, else /bin/sh) run as `user` (TETHER_SHELL_USER or
 * the remote `shellUser` setting; default: the agent's user). Resolved when set, so a bad setting
 * fails loudly rather than on the first session.
 */
export function resolveShellConfig(options: { shell?: string; user?: string } = {}): ShellConfig {
  const shell = options.shell ?? '/bin/sh';
  if (!existsSync(shell)) throw new Error(`TETHER_SHELL ${shell} does not exist`);
  const user = options.user;
  if (!user || user === userInfo().username) return { shell, args: [], cwd: homedir() };
  const id = (flag: string) => Number(execFileSync('id', [flag, user], { encoding: 'utf8' }).trim());
  const home = execFileSync('sh', ['-c', 'getent passwd "$1" | cut -d: -f6', 'sh', user], { encoding: 'utf8' }).trim();
  return { shell, args: [], uid: id('-u'), gid: id('-g'), cwd: home || '/' };
}
