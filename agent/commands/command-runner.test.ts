import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { TetherError } from '../../protocol/index.js';
import { CommandRunner, type CommandExit } from './command-runner.js';

function harness(options: { maxOutputBytes?: number; detachedGraceMs?: number; keepBytes?: number } = {}) {
  const output = new Map<number, Buffer[]>();
  const exits: CommandExit[] = [];
  let onExit: (e: CommandExit) => void = () => undefined;
  const runner = new CommandRunner({
    log: pino({ level: 'silent' }),
    killGraceMs: 300,
    maxOutputBytes: options.maxOutputBytes,
    detachedGraceMs: options.detachedGraceMs,
    keepBytes: options.keepBytes,
    send: (id, data) => {
      output.set(id, [...(output.get(id) ?? []), Buffer.from(data)]);
      return true;
    },
    emitExit: (e) => {
      exits.push(e);
      onExit(e);
    },
  });
  const exited = () => new Promise<CommandExit>((resolve) => (onExit = resolve));
  const text = (id: number) => Buffer.concat(output.get(id) ?? []).toString('utf8');
  return { runner, exits, exited, text };
}

/** Running, not a zombie waiting for a reaper (in a container the orphan's reaper may be slow or absent). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('CommandRunner', () => {
  it('streams stdout and stderr apart and reports the exit code', async () => {
    const h = harness();
    const done = h.exited();
    h.runner.start({ stdoutStreamId: 1, stderrStreamId: 2, command: { shell: 'echo out; echo err >&2; exit 3' }, timeoutMs: 5000 });
    expect(await done).toMatchObject({ outcome: 'exited', exitCode: 3, truncated: false });
    expect(h.text(1)).toBe('out\n');
    expect(h.text(2)).toBe('err\n');
  });

  it('runs argv without a shell, with cwd and env', async () => {
    const h = harness();
    const done = h.exited();
    h.runner.start({ stdoutStreamId: 1, stderrStreamId: 2, command: { argv: ['/bin/sh', '-c', 'pwd; echo "$GREETING"'] }, cwd: '/tmp', env: { GREETING: 'a;b $x' }, timeoutMs: 5000 });
    await done;
    expect(h.text(1)).toBe('/tmp\na;b $x\n');
  });

  it('refuses what cannot start with SPAWN_FAILED', () => {
    const h = harness();
    const start = () => h.runner.start({ stdoutStreamId: 1, stderrStreamId: 2, command: { argv: ['/nonexistent/binary'] }, timeoutMs: 5000 });
    expect(start).toThrow(TetherError);
    try {
      start();
    } catch (err) {
      expect((err as TetherError).code).toBe('SPAWN_FAILED');
    }
    expect(h.runner.size).toBe(0);
  });

  it('a timeout kills the whole process tree, background children included', async () => {
    const h = harness();
    const done = h.exited();
    h.runner.start({ stdoutStreamId: 1, stderrStreamId: 2, command: { shell: 'sleep 300 & echo $!; sleep 300' }, timeoutMs: 500 });
    await new Promise((r) => setTimeout(r, 200));
    const childPid = Number(h.text(1).trim());
    expect(alive(childPid)).toBe(true);
    const exit = await done;
    expect(exit.outcome).toBe('timed_out');
    expect(exit.signal).toBe('SIGTERM');
    await new Promise((r) => setTimeout(r, 50));
    expect(alive(childPid)).toBe(false);
  });

  it('cancel stops a command mid-output; a TERM-ignoring tree still dies by SIGKILL', async () => {
    const h = harness();
    const done = h.exited();
    h.runner.start({ stdoutStreamId: 1, stderrStreamId: 2, command: { shell: "trap '' TERM; while :; do echo tick; sleep 0.01; done" }, timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 200));
    expect(h.text(1)).toContain('tick');
    expect(h.runner.cancel({ stdoutStreamId: 1 })).toBe(true);
    const exit = await done;
    expect(exit.outcome).toBe('cancelled');
    expect(exit.signal).toBe('SIGKILL');
    expect(h.runner.cancel({ stdoutStreamId: 1 })).toBe(false);
  });

  it('bounds forwarded output and says it truncated', async () => {
    const h = harness({ maxOutputBytes: 1000 });
    const done = h.exited();
    h.runner.start({ stdoutStreamId: 1, stderrStreamId: 2, command: { shell: 'head -c 100000 /dev/zero' }, timeoutMs: 5000 });
    expect(await done).toMatchObject({ outcome: 'exited', exitCode: 0, truncated: true });
    expect(h.text(1).length).toBe(1000);
  });

  describe('a command started with a run id outlives its control channel', () => {
    const RUN = '0b7a6d4e-3f0c-4a55-9a3e-5b1f8c2d9e01';

    it('runs on while detached and, on reattach, resends what the backend lacks on the new streams', async () => {
      const h = harness();
      const done = h.exited();
      h.runner.start({ stdoutStreamId: 1, stderrStreamId: 2, runId: RUN, command: { shell: 'echo before; sleep 0.4; echo during; echo err-during >&2' }, timeoutMs: 10_000 });
      await new Promise((r) => setTimeout(r, 200));
      expect(h.text(1)).toBe('before\n');
      h.runner.detachAll();
      await new Promise((r) => setTimeout(r, 600));
      // Ended while detached: nothing sent, no exit reported yet.
      expect(h.text(1)).toBe('before\n');
      expect(h.exits).toEqual([]);
      // The backend had 'before' on stdout and nothing of stderr.
      const result = h.runner.reattach({ runId: RUN, stdoutStreamId: 11, stderrStreamId: 12, received: { stdout: 7, stderr: 0 } });
      expect(result).toEqual({ resent: 'during\n'.length + 'err-during\n'.length, gap: 0 });
      expect(h.text(11)).toBe('during\n');
      expect(h.text(12)).toBe('err-during\n');
      expect(await done).toMatchObject({ stdoutStreamId: 11, outcome: 'exited', exitCode: 0, truncated: false });
      expect(() => h.runner.reattach({ runId: RUN, stdoutStreamId: 21, stderrStreamId: 22, received: { stdout: 0, stderr: 0 } })).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }) as Error);
    });

    it('a reattached command streams live on its new streams and is cancelled by them', async () => {
      const h = harness();
      const done = h.exited();
      h.runner.start({ stdoutStreamId: 1, stderrStreamId: 2, runId: RUN, command: { shell: 'while :; do echo tick; sleep 0.05; done' }, timeoutMs: 10_000 });
      await new Promise((r) => setTimeout(r, 100));
      h.runner.detachAll();
      const sent = h.text(1).length;
      h.runner.reattach({ runId: RUN, stdoutStreamId: 11, stderrStreamId: 12, received: { stdout: sent, stderr: 0 } });
      await new Promise((r) => setTimeout(r, 200));
      expect(h.text(11)).toMatch(/^(tick\n)+$/);
      expect(h.runner.cancel({ stdoutStreamId: 1 })).toBe(false);
      expect(h.runner.cancel({ stdoutStreamId: 11 })).toBe(true);
      expect(await done).toMatchObject({ stdoutStreamId: 11, outcome: 'cancelled' });
    });

    it('keeps only the latest output: a backend further behind learns the gap, and the run reads truncated', async () => {
      const h = harness({ keepBytes: 1000 });
      const done = h.exited();
      h.runner.start({ stdoutStreamId: 1, stderrStreamId: 2, runId: RUN, command: { shell: 'sleep 0.2; head -c 5000 /dev/zero' }, timeoutMs: 10_000 });
      h.runner.detachAll();
      await new Promise((r) => setTimeout(r, 600));
      expect(h.runner.reattach({ runId: RUN, stdoutStreamId: 11, stderrStreamId: 12, received: { stdout: 0, stderr: 0 } })).toEqual({ resent: 1000, gap: 4000 });
      expect(await done).toMatchObject({ exitCode: 0, truncated: true });
      expect(() => h.runner.reattach({ runId: RUN, stdoutStreamId: 21, stderrStreamId: 22, received: { stdout: 6000, stderr: 0 } })).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }) as Error);
    });

    it('refuses offsets beyond what the command produced, and a stream another command holds', async () => {
      const h = harness();
      h.runner.start({ stdoutStreamId: 1, stderrStreamId: 2, runId: RUN, command: { shell: 'sleep 5' }, timeoutMs: 10_000 });
      h.runner.start({ stdoutStreamId: 3, stderrStreamId: 4, command: { shell: 'sleep 5' }, timeoutMs: 10_000 });
      expect(() => h.runner.reattach({ runId: RUN, stdoutStreamId: 11, stderrStreamId: 12, received: { stdout: 1, stderr: 0 } })).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }) as Error);
      expect(() => h.runner.reattach({ runId: RUN, stdoutStreamId: 3, stderrStreamId: 12, received: { stdout: 0, stderr: 0 } })).toThrow(expect.objectContaining({ code: 'CONFLICT' }) as Error);
      h.runner.cancelAll();
    });

    it('a detached command is cancelled by its run id at once, not at the end of its grace, and is then gone', async () => {
      const h = harness({ detachedGraceMs: 30_000 });
      h.runner.start({ stdoutStreamId: 1, stderrStreamId: 2, runId: RUN, command: { shell: 'echo $$; sleep 30' }, timeoutMs: 60_000 });
      await new Promise((r) => setTimeout(r, 200));
      const pid = Number(h.text(1).trim());
      h.runner.detachAll();
      expect(h.runner.cancel({ runId: '0b7a6d4e-3f0c-4a55-9a3e-5b1f8c2d9e02' })).toBe(false);
      expect(h.runner.cancel({ runId: RUN })).toBe(true);
      await new Promise((r) => setTimeout(r, 300));
      expect(alive(pid)).toBe(false);
      expect(h.runner.size).toBe(0);
      expect(h.exits).toEqual([]);
      expect(() => h.runner.reattach({ runId: RUN, stdoutStreamId: 11, stderrStreamId: 12, received: { stdout: 0, stderr: 0 } })).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }) as Error);
    });

    it('a command without a run id ends with its channel; one with a run id ends when its grace runs out', async () => {
      const h = harness({ detachedGraceMs: 300 });
      h.runner.start({ stdoutStreamId: 1, stderrStreamId: 2, command: { shell: 'echo $$; sleep 30' }, timeoutMs: 60_000 });
      h.runner.start({ stdoutStreamId: 3, stderrStreamId: 4, runId: RUN, command: { shell: 'echo $$; sleep 30' }, timeoutMs: 60_000 });
      await new Promise((r) => setTimeout(r, 200));
      const [plain, kept] = [Number(h.text(1).trim()), Number(h.text(3).trim())];
      h.runner.detachAll();
      await new Promise((r) => setTimeout(r, 150));
      expect(alive(plain)).toBe(false);
      expect(alive(kept)).toBe(true);
      await new Promise((r) => setTimeout(r, 400));
      expect(alive(kept)).toBe(false);
      expect(h.runner.size).toBe(0);
      expect(() => h.runner.reattach({ runId: RUN, stdoutStreamId: 11, stderrStreamId: 12, received: { stdout: 0, stderr: 0 } })).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }) as Error);
    });
  });
});
