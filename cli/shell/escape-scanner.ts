/**
 * ssh's escape sequences on the keys typed into `tether shell`: a `~` typed at the start of a
 * line is held; `~.` then leaves, `~~` sends one `~`, `~?` lists the escapes, and `~` before
 * any other key sends both. A line starts after Enter (CR or LF) and at the very beginning.
 */
export type EscapeAction = { type: 'send'; data: Buffer } | { type: 'leave' } | { type: 'help' };

const TILDE = 0x7e;
const DOT = 0x2e;
const QUESTION = 0x3f;
const CR = 0x0d;
const LF = 0x0a;

export const ESCAPE_HELP = 'Supported escape sequences:\r\n ~.  - leave the shell\r\n ~?  - this message\r\n ~~  - send the escape character\r\n(Escapes are only recognised right after a newline.)\r\n';

export class EscapeScanner {
  private atLineStart = true;
  private held = false;

  /** What to do with a chunk of keys: bytes to send, interleaved with escapes in the order typed. */
  scan(input: Buffer): EscapeAction[] {
    const actions: EscapeAction[] = [];
    let start = 0;
    const flush = (end: number): void => {
      if (end > start) actions.push({ type: 'send', data: input.subarray(start, end) });
    };
    for (let i = 0; i < input.length; i++) {
      const byte = input[i] as number;
      if (this.held) {
        this.held = false;
        start = i + 1;
        if (byte === DOT) {
          actions.push({ type: 'leave' });
          return actions;
        }
        if (byte === QUESTION) {
          actions.push({ type: 'help' });
          this.atLineStart = true;
          continue;
        }
        if (byte === TILDE) {
          actions.push({ type: 'send', data: Buffer.from('~') });
          this.atLineStart = false;
          continue;
        }
        // Not an escape: the held `~` goes out before this key.
        actions.push({ type: 'send', data: Buffer.from('~') });
        start = i;
      }
      if (this.atLineStart && byte === TILDE) {
        flush(i);
        this.held = true;
        start = i + 1;
        continue;
      }
      this.atLineStart = byte === CR || byte === LF;
    }
    flush(input.length);
    return mergeSends(actions);
  }
}

function mergeSends(actions: EscapeAction[]): EscapeAction[] {
  const merged: EscapeAction[] = [];
  for (const action of actions) {
    const last = merged[merged.length - 1];
    if (action.type === 'send' && last?.type === 'send') merged[merged.length - 1] = { type: 'send', data: Buffer.concat([last.data, action.data]) };
    else merged.push(action);
  }
  return merged;
}
