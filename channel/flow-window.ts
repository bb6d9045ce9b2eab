/**
 * Unacknowledged bytes at which a PTY is paused. ARCHITECTURE §5 asks for ~100 KB; at 160 KB a
 * flood keeps streaming across a whole relay round trip (agent → backend → console → ack back),
 * and the backend still holds at most this plus one coalesced 64 KB frame, within its 256 KB budget.
 */
export const DEFAULT_HIGH_WATER_BYTES = 160 * 1024;
/**
 * …and below which it resumes: one coalesced frame under the high mark, so a paused PTY restarts
 * while the pipe is still full instead of after it has drained.
 */
export const DEFAULT_LOW_WATER_BYTES = 96 * 1024;

/**
 * Credit-based flow control for one stream: output counts against the window until the
 * consumer acknowledges it (the console that xterm has written it, a file transfer's or a forward's
 * far side that it took it). Between the two marks the source keeps its
 * state, so it does not flap on every small ack.
 */
export class FlowWindow {
  private unackedBytes = 0;
  private isPaused = false;

  constructor(
    readonly highWater: number = DEFAULT_HIGH_WATER_BYTES,
    readonly lowWater: number = DEFAULT_LOW_WATER_BYTES,
  ) {
    if (lowWater < 0 || lowWater >= highWater) throw new RangeError('lowWater must be below highWater');
  }

  get unacked(): number {
    return this.unackedBytes;
  }

  get paused(): boolean {
    return this.isPaused;
  }

  /** Records sent bytes; true when the source must pause now. */
  sent(bytes: number): boolean {
    this.unackedBytes += bytes;
    if (this.isPaused || this.unackedBytes < this.highWater) return false;
    this.isPaused = true;
    return true;
  }

  /** Records acknowledged bytes (never below zero: a confused peer cannot buy extra credit); true when the source may resume. */
  acked(bytes: number): boolean {
    this.unackedBytes = Math.max(0, this.unackedBytes - bytes);
    if (!this.isPaused || this.unackedBytes > this.lowWater) return false;
    this.isPaused = false;
    return true;
  }
}
