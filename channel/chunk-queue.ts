/** Drops `bytes` from the front of a queue of chunks (acknowledged output, kept for a resend until then). */
export function trimFront(chunks: Buffer[], bytes: number): void {
  let left = bytes;
  while (left > 0 && chunks.length > 0) {
    const head = chunks[0] as Buffer;
    if (head.length <= left) {
      chunks.shift();
      left -= head.length;
    } else {
      chunks[0] = head.subarray(left);
      left = 0;
    }
  }
}
