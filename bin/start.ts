/**
 * `npm start`: backend with its SQLite store in ./.tether (or $TETHER_HOME), this machine
 * enrolled as a device, and the console opened — in Electron where a binary and a display
 * exist, otherwise as a URL to open in a browser. Each part runs as the same command a user
 * would run by hand, as a child process; Ctrl-C stops them all.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { AGENT_ENV_HELP, readAgentEnv } from '../agent/env.js';
import { BACKEND_ENV_HELP, readBackendEnv } from '../backend/env.js';
import { bundleElectronMain, electronBinary } from '../build/electron/bundle-main.js';
import { envHelp, parseEnv, TetherError } from '../protocol/index.js';

/** What `npm start` itself reads; the backend's and the agent's variables pass through to them. */
export const StartEnv = z.object({
  TETHER_HOME: z.string().optional().describe('home of the local backend; the agent\'s state is <home>/agent (default ./.tether)'),
  TETHER_LISTEN: z.string().optional().describe('HOST:PORT the local backend listens on (default 127.0.0.1:8443)'),
  TETHER_NO_ELECTRON: z.string().optional().describe('any value: do not open the desktop app, print the web console URL'),
  DISPLAY: z.string().optional().describe('X display; without it (or WAYLAND_DISPLAY) on Linux the desktop app is not opened'),
  WAYLAND_DISPLAY: z.string().optional().describe('Wayland display, as DISPLAY'),
});

export const START_HELP = `Usage: npm start [-- --help]

Starts the backend (SQLite in TETHER_HOME), enrols this machine as a device, runs its agent and
opens the console: the desktop app where an Electron binary and a display exist, else prints the
web console URL.
${envHelp(StartEnv)}
The backend's variables (tether-backend serve):${BACKEND_ENV_HELP.replace(/^\nEnvironment variables[^\n]*/, '')}
The agent's variables (tether-agent run):${AGENT_ENV_HELP.replace(/^\nEnvironment variables[^\n]*/, '')}`;

const ROOT = resolve(import.meta.dirname, '..');
const children: ChildProcess[] = [];

function run(label: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  child.stderr?.pipe(process.stderr);
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`[start] ${label} exited (${signal ?? code}); stopping`);
      stop(1);
    }
  });
  return child;
}

let stopping = false;
function stop(code: number): void {
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  setTimeout(() => process.exit(code), 500).unref();
}

function runToEnd(args: string[]): string {
  const result = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed:\n${result.stderr}`);
  return result.stdout;
}

/** Resolves when the backend logs its `listening` line; echoes its human-readable lines. */
function waitForListening(child: ChildProcess): Promise<{ url: string; caPin: string }> {
  return new Promise((resolveUrl, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      let entry: { msg?: string; url?: string; caPin?: string; level?: number } | null;
      try {
        entry = JSON.parse(line) as { msg?: string; url?: string; caPin?: string; level?: number } | null;
      } catch {
        console.log(line); // the one-time admin password line
        return;
      }
      if (entry?.msg === 'listening' && entry.url && entry.caPin) resolveUrl({ url: entry.url, caPin: entry.caPin });
      else if ((entry?.level ?? 0) >= 40) console.error(line);
    });
    child.on('exit', () => reject(new Error('the backend exited before listening')));
  });
}

/** `npm start [-- --help]`; a bad variable prints `error CODE: message` and exits 1 before anything starts. */
export async function runStart(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(START_HELP);
    return;
  }
  try {
    // Every process's variables are checked here once, so a typo fails now rather than in a child.
    readBackendEnv(process.env);
    readAgentEnv(process.env);
    await startStack(parseEnv(StartEnv, process.env));
  } catch (err) {
    if (!(err instanceof TetherError)) throw err;
    process.stderr.write(`error ${err.code}: ${err.message}\n`);
    process.exit(1);
  }
}

export async function startStack(env: z.output<typeof StartEnv>): Promise<void> {
  const home = resolve(env.TETHER_HOME ?? join(ROOT, '.tether'));
  const listen = env.TETHER_LISTEN ?? '127.0.0.1:8443';
  const agentState = join(home, 'agent');
  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));

  if (!existsSync(join(ROOT, 'renderer', 'dist', 'index.html'))) {
    console.log('[start] building the console…');
    const build = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'renderer/vite.config.ts', '--logLevel', 'warn'], { cwd: ROOT, stdio: 'inherit' });
    if (build.status !== 0) throw new Error('building the console failed');
  }

  console.log(`[start] backend home: ${home}`);
  const backend = run('backend', ['bin/tether-backend.js', 'serve', '--home', home, '--listen', listen]);
  const { url, caPin } = await waitForListening(backend);

  if (!existsSync(join(agentState, 'state.json'))) {
    console.log('[start] enrolling this machine…');
    const created = JSON.parse(runToEnd(['bin/tether-backend.js', 'token', 'create', '--home', home, '--uses', '1', '--ttl', '10m', '--json'])) as { token: string; caPin: string };
    runToEnd(['bin/tether-agent.js', 'register', '--backend', url, '--token', created.token, '--ca-pin', created.caPin, '--state', agentState]);
  }
  run('agent', ['bin/tether-agent.js', 'run', '--state', agentState]).stdout?.resume();

  const electron = process.platform === 'linux' && !env.DISPLAY && !env.WAYLAND_DISPLAY ? { reason: 'no display' } : electronBinary(env);
  if ('path' in electron) {
    console.log('[start] opening the desktop console…');
    const main = await bundleElectronMain();
    const app = spawn(electron.path, [main, `--console-url=${url}`, `--ca-pin=${caPin}`], { cwd: ROOT, stdio: 'inherit' });
    children.push(app);
    app.on('exit', () => stop(0));
  } else {
    console.log(`[start] desktop console not opened (${electron.reason})`);
  }
  console.log(`[start] web console: ${url}  (user "admin")`);
}
