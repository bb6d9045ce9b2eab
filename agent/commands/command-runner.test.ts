import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { TetherError } from '../../protocol/index.js';
import { CommandRunner, type CommandExit } from './command-runner.js';

function harness(options: { maxOutputBytes?: number } = {}) {
  const output = new Map<number, Buffer[]>();
  const exits: CommandExit[] = [];
  let onExit: (e: CommandExit) => void = () => undefined;
  const runner = new CommandRunner({
    log: pino({ level: 'silent' }),
    killGraceMs: 300,
    maxOutputBytes: options.maxOutputBytes,
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
    expect(h.runner.cancel(1)).toBe(true);
    const exit = await done;
    expect(exit.outcome).toBe('cancelled');
    expect(exit.signal).toBe('SIGKILL');
    expect(h.runner.cancel(1)).toBe(false);
  });

  it('bounds forwarded output and says it truncated', async () => {
    const h = harness({ maxOutputBytes: 1000 });
    const done = h.exited();
    h.runner.start({ stdoutStreamId: 1, stderrStreamId: 2, command: { shell: 'head -c 100000 /dev/zero' }, timeoutMs: 5000 });
    expect(await done).toMatchObject({ outcome: 'exited', exitCode: 0, truncated: true });
    expect(h.text(1).length).toBe(1000);
  });
});
