import { spawn } from 'node:child_process';

export interface HookResult {
  ok: boolean;
  /** Why it failed: exit code or signal, timeout, or spawn error, with the tail of its stderr. */
  error: string | null;
}

/** Keep only this much of the hook's output for the report. */
const MAX_OUTPUT = 2048;

/**
 * Runs the apply hook (no shell) with the config file as its argument. It must exit 0 within
 * `timeoutMs`; otherwise it is killed (SIGKILL: a hook stuck in I/O ignores SIGTERM) and counts as failed.
 */
export function runApplyHook(hookPath: string, args: string[], env: Record<string, string>, timeoutMs: number): Promise<HookResult> {
  return new Promise((resolve) => {
    let output = '';
    let settled = false;
    const finish = (result: HookResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const child = spawn(hookPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-MAX_OUTPUT);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish({ ok: false, error: `apply hook timed out after ${timeoutMs} ms${tail(output)}` });
    }, timeoutMs);
    child.on('error', (err) => finish({ ok: false, error: `apply hook could not start: ${err.message}` }));
    child.on('close', (code, signal) => {
      if (code === 0) finish({ ok: true, error: null });
      else finish({ ok: false, error: `apply hook ${signal ? `killed by ${signal}` : `exited with ${code}`}${tail(output)}` });
    });
  });
}

function tail(output: string): string {
  const trimmed = output.trim();
  return trimmed ? `: ${trimmed}` : '';
}
