import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, cleanup, enrolAndRun, login, startAgent, startBackend, tempDir, waitFor, type Backend, type Proc } from '../harness.js';
import { startTcpProxy, type TcpProxy } from '../hardening/tcp-proxy.js';
import { ShellClient } from '../shell-client.js';

const PROMPT = 'PROMPT> ';

/**
 * A device's network drops while an operator's shell is open or a command runs: the agent keeps
 * the PTY and the command, the backend keeps the console's session and the run, and once the agent
 * is back both go on, with the output produced meanwhile. The agent reaches the backend through a
 * TCP proxy that cuts every connection (the console's own socket is direct and stays up).
 */
describe('a shell and a run survive their device\'s link dropping', () => {
  let backend: Backend;
  let admin: string;
  let proxy: TcpProxy;
  let agent: { proc: Proc; stateDir: string; deviceId: string };

  beforeAll(async () => {
    backend = await startBackend({ env: { TETHER_SHELL_IDLE_MS: '60000' } });
    admin = await login(backend);
    // Reconnects within 2 s: each cut's short-lived connection grows the agent's backoff, and by
    // the third test its next try could be 25 s away (what is tested is the relink, not the backoff).
    const env = { PS1: PROMPT, TETHER_BACKOFF_MAX_MS: '2000' };
    agent = await enrolAndRun(backend, admin, 'relinked', env);
    proxy = await startTcpProxy({ host: '127.0.0.1', port: backend.port });
    await agent.proc.stop();
    const statePath = join(agent.stateDir, 'state.json');
    const state = JSON.parse(readFileSync(statePath, 'utf8')) as { backendUrl: string };
    writeFileSync(statePath, JSON.stringify({ ...state, backendUrl: `https://127.0.0.1:${proxy.port}` }));
    agent.proc = startAgent(agent.stateDir, env, 'relinked via proxy');
    await agent.proc.waitForLog((e) => e.msg === 'connected', 30_000);
  });

  afterAll(async () => {
    await agent.proc.stop();
    await proxy.close();
    await backend.stop();
    cleanup(backend.home, agent.stateDir);
  });

  it('the same PTY goes on after the agent reconnects, with the output produced while the link was down', async () => {
    const term = await ShellClient.open(backend, admin, { deviceId: agent.deviceId, cols: 80, rows: 24 });
    await term.waitFor(PROMPT);
    term.type('MARK=same-shell-$$\r');
    await term.waitFor(PROMPT, term.received - 1);
    // Prints while the link is down: its output must arrive once the agent is back.
    const typed = term.received;
    term.type('sleep 1; echo printed-during-$((1+1))-cut\r');
    await term.waitFor('sleep 1', typed);
    // Down for 2.5 s: the echo (at 1 s) happens while the agent has no channel.
    proxy.setPaused(true);
    proxy.cutAll();
    await agent.proc.waitForLog((e) => e.msg === 'control channel closed; reconnecting', 10_000);
    // Typed while the backend knows the device is away: held, and typed into the PTY once it is back.
    await backend.proc.waitForLog((e) => e.msg === 'shell session lost its device link; waiting to reattach', 10_000);
    term.type('echo typed-while-down-$((2+3))\r');
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(term.text(typed)).not.toContain('printed-during-2-cut');
    expect(term.text(typed)).not.toContain('typed-while-down');
    expect(term.notices).toEqual([{ type: 'notice', notice: 'device-away' }]);
    proxy.setPaused(false);
    await term.waitFor('printed-during-2-cut', typed, 20_000).catch((err: unknown) => {
      throw new Error(`${String(err)}\n--- backend ---\n${backend.proc.tail(30)}\n--- agent ---\n${agent.proc.tail(30)}`);
    });
    await term.waitFor('typed-while-down-5', typed, 10_000);
    expect(term.notices).toEqual([{ type: 'notice', notice: 'device-away' }, { type: 'notice', notice: 'device-back', droppedBytes: 0 }]);
    const from = term.received;
    term.type('echo mark=$MARK pid=$$\r');
    await term.waitFor('mark=same-shell-', from, 10_000);
    const shown = term.text(from);
    const pid = /pid=(\d+)/.exec(shown)?.[1];
    expect(shown).toContain(`mark=same-shell-${pid ?? 'none'}`);
    expect(term.ended).toBeNull();
    expect(backend.proc.count((e) => e.msg === 'shell session reattached')).toBe(1);
    const reattached = await agent.proc.waitForLog((e) => e.msg === 'shell session reattached', 1_000);
    expect(Number(reattached.resent)).toBeGreaterThan(0);
    term.type('exit 4\r');
    await term.closed;
    expect(term.ended).toMatchObject({ type: 'ended', exitCode: 4 });
  });

  it('tells the console when typing during a cut went past what is held, and how much was dropped', async () => {
    const term = await ShellClient.open(backend, admin, { deviceId: agent.deviceId, cols: 80, rows: 24 });
    await term.waitFor(PROMPT);
    const logFrom = backend.proc.json().length;
    proxy.setPaused(true);
    proxy.cutAll();
    await backend.proc.waitForLog((e) => e.msg === 'shell session lost its device link; waiting to reattach', 10_000, logFrom);
    // 40 KB is held; the next 40 KB would pass the 64 KB held at most, so it is dropped, and said so at once.
    term.type('#'.repeat(40_000));
    term.type('#'.repeat(40_000));
    await term.until(() => term.notices.length === 2, 10_000, 'the input-dropped notice');
    expect(term.notices).toEqual([{ type: 'notice', notice: 'device-away' }, { type: 'notice', notice: 'input-dropped' }]);
    proxy.setPaused(false);
    await term.until(() => term.notices.length === 3, 20_000, 'the device-back notice');
    expect(term.notices[2]).toEqual({ type: 'notice', notice: 'device-back', droppedBytes: 40_000 });
    // The shell took the held line (a comment) and goes on.
    const from = term.received;
    term.type('\x15echo after-$((1+2))\r');
    await term.waitFor('after-3', from, 10_000);
    expect(term.ended).toBeNull();
    term.closeTab();
    await term.closed;
  });

  it('a run goes on after the agent reconnects: every line, from before, during and after the cut, once; it ends succeeded', async () => {
    type RunView = { id: string; state: string; stdout: string; stderr: string; exitCode: number | null; error: string | null };
    const started = await api(backend, 'POST', `/api/v1/devices/${agent.deviceId}/commands`, {
      token: admin,
      body: { command: { shell: 'for i in 1 2 3 4 5 6 7 8 9 10; do echo line-$i; echo err-$i >&2; sleep 0.4; done; exit 0' }, timeoutMs: 30_000 },
    });
    expect(started.status).toBe(200);
    const runId = (started.body as RunView).id;
    const view = async () => (await api(backend, 'GET', `/api/v1/runs/${runId}`, { token: admin })).body as RunView;
    await waitFor(async () => (await view()).stdout.includes('line-2'), 10_000, 'the run to print');
    const from = agent.proc.json().length;
    proxy.setPaused(true);
    proxy.cutAll();
    await agent.proc.waitForLog((e) => e.msg === 'control channel closed; reconnecting', 10_000, from);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect((await view()).state).toBe('running');
    proxy.setPaused(false);
    let run: RunView | undefined;
    await waitFor(async () => (run = await view()).state !== 'running', 30_000, 'the run to end').catch((err: unknown) => {
      throw new Error(`${String(err)}\n--- backend ---\n${backend.proc.tail(30)}\n--- agent ---\n${agent.proc.tail(30)}`);
    });
    const lines = (prefix: string) => Array.from({ length: 10 }, (_, i) => `${prefix}-${i + 1}\n`).join('');
    expect(run).toMatchObject({ state: 'succeeded', exitCode: 0, error: null, stdout: lines('line'), stderr: lines('err') });
    const reattached = await agent.proc.waitForLog((e) => e.msg === 'command reattached', 1_000, from);
    expect(Number(reattached.resent)).toBeGreaterThan(0);
    expect(reattached.gap).toBe(0);
  });

  it('a run cancelled while its device is away is stopped on the device once it is back, not when the agent gives up waiting', async () => {
    // The command rewrites a file ten times a second: while the file changes, it runs.
    const dir = tempDir('relink-cancel');
    const beat = join(dir, 'beat');
    const started = await api(backend, 'POST', `/api/v1/devices/${agent.deviceId}/commands`, {
      token: admin,
      body: { command: { shell: `while :; do date +%s%N > ${beat}; sleep 0.1; done` }, timeoutMs: 120_000 },
    });
    expect(started.status).toBe(200);
    const runId = (started.body as { id: string }).id;
    await waitFor(async () => existsSync(beat), 10_000, 'the command to run');
    const backendFrom = backend.proc.json().length;
    proxy.setPaused(true);
    proxy.cutAll();
    await backend.proc.waitForLog((e) => e.msg === 'run lost its device link; waiting to reattach' && e.runId === runId, 10_000, backendFrom);
    const cancelled = await api(backend, 'POST', `/api/v1/runs/${runId}/cancel`, { token: admin });
    expect(cancelled.status).toBe(200);
    expect((cancelled.body as { state: string }).state).toBe('cancelled');
    // Still running on the device, which cannot be told yet.
    const before = readFileSync(beat, 'utf8');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(readFileSync(beat, 'utf8')).not.toBe(before);
    proxy.setPaused(false);
    await backend.proc.waitForLog((e) => e.msg === 'cancel delivered to the device' && e.runId === runId, 20_000, backendFrom).catch((err: unknown) => {
      throw new Error(`${String(err)}\n--- backend ---\n${backend.proc.tail(30)}\n--- agent ---\n${agent.proc.tail(30)}`);
    });
    // Stopped (the agent waits 60 s for a reattach before ending a detached command on its own).
    await new Promise((resolve) => setTimeout(resolve, 500));
    const last = readFileSync(beat, 'utf8');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(readFileSync(beat, 'utf8')).toBe(last);
    expect(((await api(backend, 'GET', `/api/v1/runs/${runId}`, { token: admin })).body as { state: string }).state).toBe('cancelled');
    cleanup(dir);
  });
});
