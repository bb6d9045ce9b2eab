/**
 * The operators' CLI (`bin/tether.js`) spawned as a user runs it, against a real backend with a
 * real agent: login with the CA pin (and TOTP), the credentials file, devices, exec, jobs run,
 * shell under a real PTY (node-pty), logout.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as NodePty from 'node-pty';
import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobDetail, Run, TotpSetupResponse } from '../../protocol/index.js';
import { ADMIN_PASSWORD, api, cleanup, enrolAndRun, login, ROOT, startBackend, tempDir, waitFor, type Backend, type Proc } from '../harness.js';
import { startTcpProxy } from '../hardening/tcp-proxy.js';
import { addUser } from '../shell-client.js';

const nodePty = createRequire(import.meta.url)('node-pty') as typeof NodePty;
const TETHER = join(ROOT, 'bin', 'tether.js');

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('tether CLI', () => {
  let backend: Backend;
  let agent: { proc: Proc; stateDir: string; deviceId: string };
  let config: string;
  let credentials: string;
  const dirs: string[] = [];

  /** Runs `tether ARGS` with its own config directory; `input` is written to stdin (a pipe, not a terminal). */
  function tether(args: string[], options: { input?: string; configDir?: string; onStdout?: (text: string) => void } = {}): Promise<Result> {
    const child = spawn(process.execPath, [TETHER, ...args], { cwd: ROOT, env: { ...process.env, XDG_CONFIG_HOME: options.configDir ?? config }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
      options.onStdout?.(stdout);
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.stdin.end(options.input ?? '');
    return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  }

  const loginArgs = (pin = backend.caPin, username = 'admin') => ['login', backend.url, '--ca-pin', pin, '--username', username];

  beforeAll(async () => {
    backend = await startBackend();
    agent = await enrolAndRun(backend, await login(backend), 'cli-robot');
    config = tempDir('cli-config');
    credentials = join(config, 'tether', 'credentials.json');
    dirs.push(config, agent.stateDir);
  }, 120_000);

  afterAll(async () => {
    await agent?.proc.stop();
    await backend?.stop();
    cleanup(backend?.home ?? '', ...dirs);
  });

  it('documents its commands', async () => {
    const help = await tether(['--help']);
    expect(help.code).toBe(0);
    for (const command of ['login', 'logout', 'devices', 'exec', 'shell', 'cp', 'forward', 'jobs']) expect(help.stdout).toContain(command);
    expect((await tether(['jobs', 'run', '--help'])).stdout).toContain('--query');
  });

  it('without a login, a command fails with UNAUTHORIZED', async () => {
    const res = await tether(['devices']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^error UNAUTHORIZED: Not logged in/);
  });

  it('login refuses a wrong CA pin before asking for the password, and stores nothing', async () => {
    const res = await tether(loginArgs(`sha256:${'0'.repeat(64)}`), { input: `${ADMIN_PASSWORD}\n` });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^error CA_PIN_MISMATCH: /);
    expect(res.stderr).not.toContain('Password');
    expect(existsSync(join(config, 'tether'))).toBe(false);
  });

  it('login with a wrong password answers the API code, and stores nothing', async () => {
    const res = await tether(loginArgs(), { input: 'not the password\n' });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('error LOGIN_FAILED: ');
    expect(existsSync(credentials)).toBe(false);
  });

  it('login stores the session 0600 in a 0700 directory; --json prints the user', async () => {
    const res = await tether([...loginArgs(), '--json'], { input: `${ADMIN_PASSWORD}\n` });
    expect(res.stderr).toContain('Password for admin@');
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ url: backend.url, user: { username: 'admin', role: 'admin' } });
    expect(statSync(credentials).mode & 0o777).toBe(0o600);
    expect(statSync(join(config, 'tether')).mode & 0o777).toBe(0o700);
    const stored = JSON.parse(readFileSync(credentials, 'utf8')) as { token: string; caPin: string; caCertPem: string };
    expect(stored.caPin).toBe(backend.caPin);
    expect(stored.caCertPem.trim()).toBe(backend.caCertPem.trim());
    expect((await api(backend, 'GET', '/api/v1/auth/me', { token: stored.token })).status).toBe(200);
    // Logging in again replaces the session: the one it replaces is ended, not left behind.
    expect((await tether(loginArgs(), { input: `${ADMIN_PASSWORD}\n` })).code).toBe(0);
    const again = JSON.parse(readFileSync(credentials, 'utf8')) as { token: string };
    expect(again.token).not.toBe(stored.token);
    expect((await api(backend, 'GET', '/api/v1/auth/me', { token: stored.token })).body).toMatchObject({ code: 'SESSION_INVALID' });
    expect((await api(backend, 'GET', '/api/v1/auth/me', { token: again.token })).status).toBe(200);
  });

  it('devices --json prints the API list; the table and --query filter', async () => {
    const json = await tether(['devices', '--json']);
    expect(json.code).toBe(0);
    const list = JSON.parse(json.stdout) as { devices: Array<{ id: string; name: string; online: boolean }>; nextAfter: null };
    expect(list.devices).toEqual([expect.objectContaining({ id: agent.deviceId, name: 'cli-robot', online: true, lastSeen: expect.any(Number) })]);
    const table = await tether(['devices', '--query', 'ROBOT']);
    expect(table.stdout).toMatch(/^NAME\s+ID\s+STATUS\s+LAST SEEN\s+TAGS\n/);
    expect(table.stdout).toContain(`cli-robot  ${agent.deviceId}  online`);
    expect(JSON.parse((await tether(['devices', '--query', 'no-such-device', '--json'])).stdout)).toEqual({ devices: [], nextAfter: null });
  });

  it('exec passes stdout and stderr apart and exits 0', async () => {
    const res = await tether(['exec', 'cli-robot', '--', 'sh', '-c', 'echo out; echo err >&2']);
    expect(res).toEqual({ code: 0, stdout: 'out\n', stderr: 'err\n' });
  });

  it('exec exits with the remote exit status, by id or name, with --shell', async () => {
    expect((await tether(['exec', agent.deviceId, '--', 'sh', '-c', 'exit 3'])).code).toBe(3);
    const piped = await tether(['exec', 'cli-robot', '--shell', '--', 'echo', 'a b', '|', 'tr', 'a', 'x']);
    expect(piped).toMatchObject({ code: 0, stdout: 'x b\n' });
    const missing = await tether(['exec', 'cli-robot', '--', '/no/such/program']);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toContain('SPAWN_FAILED');
  });

  it('exec shows output while the command still runs', async () => {
    let sawFirstAt = 0;
    const res = await tether(['exec', 'cli-robot', '--', 'sh', '-c', 'echo first; sleep 3; echo second'], {
      onStdout: (text) => {
        if (sawFirstAt === 0 && text.includes('first')) sawFirstAt = Date.now();
      },
    });
    const endedAt = Date.now();
    expect(res).toMatchObject({ code: 0, stdout: 'first\nsecond\n' });
    expect(endedAt - sawFirstAt).toBeGreaterThan(1500);
  });

  it('Ctrl-C cancels the command on the device and exits 130', async () => {
    const child = spawn(process.execPath, [TETHER, 'exec', 'cli-robot', '--', 'sh', '-c', 'echo started; exec sleep 30'], { cwd: ROOT, env: { ...process.env, XDG_CONFIG_HOME: config }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    // Printed from the polling loop, so the CLI is following the run (and handles Ctrl-C) by then.
    await waitFor(() => stdout.includes('started'), 20_000, 'the command to start');
    child.kill('SIGINT');
    expect(await closed).toBe(130);
    expect(stderr).toContain('cancelling');
    const admin = await login(backend);
    const { runs } = (await api(backend, 'GET', `/api/v1/devices/${agent.deviceId}/runs?limit=1`, { token: admin })).body as { runs: Run[] };
    expect(runs[0]).toMatchObject({ state: 'cancelled' });
  });

  it('exec --json prints the finished run; an unknown device is DEVICE_UNKNOWN', async () => {
    const res = await tether(['exec', 'cli-robot', '--json', '--', 'sh', '-c', 'echo hi; exit 2']);
    expect(res.code).toBe(2);
    expect(JSON.parse(res.stdout) as Run).toMatchObject({ deviceId: agent.deviceId, state: 'failed', exitCode: 2, stdout: 'hi\n' });
    const unknown = await tether(['exec', 'nobody', '--json', '--', 'true']);
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.stderr)).toMatchObject({ code: 'DEVICE_UNKNOWN' });
  });

  it('jobs run shows progress until the job completes; --json gives the job and its runs', async () => {
    const res = await tether(['jobs', 'run', '--query', 'cli-robot', '--', 'echo', 'fleet']);
    expect(res.code).toBe(0);
    expect(res.stderr).toMatch(/job [0-9a-f]{8} completed: 1\/1 done · succeeded 1/);
    expect(res.stdout).toMatch(new RegExp(`${agent.deviceId}\\s+succeeded\\s+0`));
    const json = await tether(['jobs', 'run', '--query', 'cli-robot', '--json', '--', 'sh', '-c', 'exit 4']);
    expect(json.code).toBe(1);
    const job = JSON.parse(json.stdout) as JobDetail;
    expect(job).toMatchObject({ state: 'completed', total: 1, counts: { failed: 1 } });
    expect(job.runs).toEqual([expect.objectContaining({ deviceId: agent.deviceId, state: 'failed', exitCode: 4 })]);
    const empty = await tether(['jobs', 'run', '--query', 'no-such-device', '--', 'true']);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('error SELECTION_EMPTY');
  });

  /** The device's /bin/sh or bash prompt, whoever the agent runs as. */
  const PROMPT = /[$#] $/;

  /** `tether ARGS` under a real pseudo-terminal, as an operator types into it. */
  function underPty(args: string[], configDir = config): { output: () => string; write(text: string): void; resize(cols: number, rows: number): void; exited: Promise<number>; waitFor(needle: string | RegExp): Promise<void> } {
    let output = '';
    const pty = nodePty.spawn(process.execPath, [TETHER, ...args], { name: 'xterm', cols: 100, rows: 30, cwd: ROOT, env: { ...process.env, XDG_CONFIG_HOME: configDir } as Record<string, string> });
    pty.onData((d) => (output += d));
    if (process.env.DEBUG_PTY) pty.onData((d) => process.stderr.write(`[pty] ${JSON.stringify(d)}\n`));
    const exited = new Promise<number>((resolve) => pty.onExit(({ exitCode }) => resolve(exitCode)));
    return {
      output: () => output,
      write: (text) => pty.write(text),
      resize: (cols, rows) => pty.resize(cols, rows),
      exited,
      waitFor: async (needle) => {
        try {
          await waitFor(() => (typeof needle === 'string' ? output.includes(needle) : needle.test(output)), 20_000, String(needle));
        } catch (err) {
          throw new Error(`${String(err)}; terminal output: ${JSON.stringify(output.slice(-400))}`, { cause: err });
        }
      },
    };
  }

  it('shell: a raw terminal on the device; ~. at the start of a line leaves', async () => {
    const term = underPty(['shell', 'cli-robot']);
    await term.waitFor(PROMPT);
    term.write('echo $((6*7))\r');
    await term.waitFor(/\n\S*\r?42\r*\n/);
    term.write('~.');
    expect(await term.exited).toBe(255);
    expect(term.output()).toContain('Connection to cli-robot closed.');
  });

  it('shell: resizes with the local terminal, and acknowledges output so a flood gets through', async () => {
    const term = underPty(['shell', 'cli-robot']);
    await term.waitFor(PROMPT);
    term.resize(123, 41);
    // SIGWINCH reaches the CLI, which sends the size; the remote PTY reports it.
    await waitFor(async () => {
      term.write('stty size\r');
      await new Promise((r) => setTimeout(r, 200));
      return term.output().includes('41 123');
    }, 20_000, 'the remote PTY to take the new size');
    // 2 MB, far past the agent's 160 KB high-water mark: it only gets through if acks flow back.
    term.write("head -c 2000000 /dev/zero | tr '\\0' a; echo; echo flood-$((1+1))\r");
    await term.waitFor('flood-2');
    term.write('\r~.');
    expect(await term.exited).toBe(255);
  });

  it('shell: a dropped connection reattaches to the same shell', async () => {
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: backend.port });
    const viaProxy = tempDir('cli-config');
    dirs.push(viaProxy);
    try {
      const login = await tether(['login', `https://127.0.0.1:${proxy.port}`, '--ca-pin', backend.caPin, '--username', 'admin'], { input: `${ADMIN_PASSWORD}\n`, configDir: viaProxy });
      expect(login.code).toBe(0);
      const term = underPty(['shell', 'cli-robot'], viaProxy);
      await term.waitFor(PROMPT);
      term.write('X=41; echo ready-$((X+1))\r');
      await term.waitFor('ready-42');
      proxy.cutAll();
      await term.waitFor('[tether: reconnected]');
      // The variable set before the drop is still there: the same shell, not a new one.
      term.write('echo still-$X-$((X+1))\r');
      await term.waitFor('still-41-42');
      term.write('\r~.');
      expect(await term.exited).toBe(255);
    } finally {
      await proxy.close();
    }
  });

  it('shell: exits with the remote shell exit status', async () => {
    const term = underPty(['shell', 'cli-robot']);
    await term.waitFor(PROMPT);
    term.write('exit 3\r');
    expect(await term.exited).toBe(3);
  });

  it('exec output to a terminal has its control characters escaped', async () => {
    const term = underPty(['exec', 'cli-robot', '--', 'printf', '\\033]0;pwned\\007x\\n']);
    expect(await term.exited).toBe(0);
    expect(term.output()).toContain('\\u001b]0;pwned\\u0007x');
    expect(term.output()).not.toContain('\x1b]0;');
  });

  it('login on a terminal asks for the password without echoing it', async () => {
    const otherConfig = tempDir('cli-config');
    dirs.push(otherConfig);
    const term = underPty(loginArgs(), otherConfig);
    await term.waitFor('Password for admin@');
    term.write(`${ADMIN_PASSWORD}\r`);
    expect(await term.exited).toBe(0);
    expect(term.output()).toContain('Logged in to');
    expect(term.output()).not.toContain(ADMIN_PASSWORD);
  });

  it('login asks for a TOTP code when the account has one', async () => {
    const token = await addUser(backend, 'totp-op', 'operator', 'operator password 1');
    const setup = (await api(backend, 'POST', '/api/v1/auth/totp/setup', { token })).body as TotpSetupResponse;
    const totp = new TOTP({ secret: Secret.fromBase32(setup.secret), digits: 6, period: 30, algorithm: 'SHA1' });
    expect((await api(backend, 'POST', '/api/v1/auth/totp/enable', { token, body: { code: totp.generate() } })).status).toBe(200);
    // The enabling code is spent; the next step's is within the backend's window.
    const otherConfig = tempDir('cli-config');
    dirs.push(otherConfig);
    const withoutCode = await tether(loginArgs(backend.caPin, 'totp-op'), { input: 'operator password 1\n', configDir: otherConfig });
    expect(withoutCode.code).toBe(1);
    expect(withoutCode.stderr).toContain('TOTP code');
    const res = await tether(loginArgs(backend.caPin, 'totp-op'), { input: `operator password 1\n${totp.generate({ timestamp: Date.now() + 30_000 })}\n`, configDir: otherConfig });
    expect(res.stderr).toContain('Logged in to');
    expect(res.code).toBe(0);
    expect(existsSync(join(otherConfig, 'tether', 'credentials.json'))).toBe(true);
  });

  it('logout ends the session on the backend and deletes the file', async () => {
    const { token } = JSON.parse(readFileSync(credentials, 'utf8')) as { token: string };
    const res = await tether(['logout']);
    expect(res.code).toBe(0);
    expect(existsSync(credentials)).toBe(false);
    expect((await api(backend, 'GET', '/api/v1/auth/me', { token })).body).toMatchObject({ code: 'SESSION_INVALID' });
    expect((await tether(['devices'])).stderr).toMatch(/^error UNAUTHORIZED/);
  });
});
