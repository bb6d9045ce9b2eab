import { TetherError } from '../protocol/errors.js';

/**
 * Strictly monotonic (epoch, counter) check for one receive direction. The transport is
 * ordered (a WebSocket), so any frame that is not strictly after the last accepted one is a
 * replay or a reorder and the connection is dropped (ARCHITECTURE §3); no sliding window needed.
 */
export class ReplayWindow {
  private lastEpoch = -1;
  private lastCounter = -1n;

  /** Throws FRAME_REPLAY unless (epoch, counter) is strictly after the last accepted pair. Records nothing. */
  check(epoch: number, counter: bigint): void {
    if (epoch < this.lastEpoch || (epoch === this.lastEpoch && counter <= this.lastCounter)) {
      throw new TetherError('FRAME_REPLAY');
    }
  }

  /** Checks and records; call only after the frame authenticated, so a forgery cannot move the window. */
  accept(epoch: number, counter: bigint): void {
    this.check(epoch, counter);
    this.lastEpoch = epoch;
    this.lastCounter = counter;
  }

  /** The last accepted pair, or null before the first. */
  get last(): { epoch: number; counter: bigint } | null {
    return this.lastEpoch < 0 ? null : { epoch: this.lastEpoch, counter: this.lastCounter };
  }
}
