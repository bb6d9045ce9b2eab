import { FINAL_RUN_STATES, RunState, type Job } from '../protocol/index.js';

/** `job 1b2c…: 7/10 done · running 2 · queued 1 · succeeded 6 · failed 1`: states with a count only, in the API's order. */
export function progressLine(job: Pick<Job, 'id' | 'state' | 'total' | 'counts'>): string {
  const final = RunState.options.filter((s) => FINAL_RUN_STATES.has(s)).reduce((sum, s) => sum + (job.counts[s] ?? 0), 0);
  const states = RunState.options.filter((s) => (job.counts[s] ?? 0) > 0).map((s) => `${s.replace('_', ' ')} ${job.counts[s] ?? 0}`);
  return [`job ${job.id.slice(0, 8)} ${job.state}: ${final}/${job.total} done`, ...states].join(' · ');
}

/**
 * A status line that rewrites itself on a terminal (`\r` and erase-line); elsewhere (a log, a
 * pipe) each change is its own line, so the history stays readable. Nothing is written when the
 * text did not change.
 */
export class StatusLine {
  private last = '';
  private drawn = false;

  constructor(private readonly out: NodeJS.WriteStream) {}

  update(text: string): void {
    if (text === this.last) return;
    this.last = text;
    if (this.out.isTTY) {
      const width = this.out.columns > 1 ? this.out.columns - 1 : 200;
      this.out.write(`\r\x1b[2K${text.length > width ? `${text.slice(0, width - 1)}…` : text}`);
      this.drawn = true;
    } else this.out.write(`${text}\n`);
  }

  /** Leaves the last state on screen and moves to a new line. */
  done(): void {
    if (this.drawn) this.out.write('\n');
    this.drawn = false;
  }
}
