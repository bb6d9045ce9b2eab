import { constants } from 'node:os';
import { missingCase, type Run } from '../protocol/index.js';

/**
 * The API gives a live run's output so far as one string (`GET /api/v1/runs/:id`); this turns
 * successive snapshots into what is new. A snapshot taken in the middle of a multi-byte
 * character ends in U+FFFD, which the next snapshot replaces by the real character: a trailing
 * U+FFFD is held back until the run is final.
 */
export class OutputFollower {
  private shown = 0;

  next(snapshot: string, final: boolean): string {
    let end = snapshot.length;
    if (!final) while (end > this.shown && snapshot.charCodeAt(end - 1) === 0xfffd) end--;
    if (end <= this.shown) return '';
    const fresh = snapshot.slice(this.shown, end);
    this.shown = end;
    return fresh;
  }
}

/** Timed out, as timeout(1) exits. */
export const EXIT_TIMED_OUT = 124;
/** The command could not be started, as a shell exits for a missing command. */
export const EXIT_SPAWN_FAILED = 127;
/** The CLI's own failure or a lost device, as ssh exits when the connection fails. */
export const EXIT_REMOTE_FAILURE = 255;

/**
 * The exit status `tether exec` passes on: the remote one, 128+N for a signal (as a shell
 * reports it), 124 for a timeout, 127 when the command did not start, 130 when cancelled,
 * 255 when the device went away without an exit code.
 */
export function exitStatusOf(run: Pick<Run, 'state' | 'exitCode' | 'signal' | 'error'>): number {
  switch (run.state) {
    case 'succeeded':
      return 0;
    case 'timed_out':
      return EXIT_TIMED_OUT;
    case 'cancelled':
      return 128 + constants.signals.SIGINT;
    case 'queued':
    case 'running':
    case 'expired':
      return EXIT_REMOTE_FAILURE;
    case 'failed': {
      if (run.exitCode !== null) return run.exitCode === 0 ? 1 : run.exitCode;
      const signal = run.signal !== null && Object.hasOwn(constants.signals, run.signal) ? constants.signals[run.signal as keyof typeof constants.signals] : undefined;
      if (signal !== undefined) return 128 + signal;
      if (run.error?.startsWith('SPAWN_FAILED')) return EXIT_SPAWN_FAILED;
      return EXIT_REMOTE_FAILURE;
    }
    default:
      return missingCase(run.state);
  }
}
