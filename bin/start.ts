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
import { bundleElectronMain, electronBinary } from '../build/electron/bundle-main.js';

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

export async function startStack(): Promise<void> {
  const home = resolve(process.env.TETHER_HOME ?? join(ROOT, '.tether'));
  const listen = process.env.TETHER_LISTEN ?? '127.0.0.1:8443';
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

  const electron = process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY ? { reason: 'no display' } : electronBinary();
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
