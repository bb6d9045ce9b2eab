/**
 * Fuzzing of the sealed-frame decoder and the session's receive path: random, mutated,
 * truncated, oversized frames and random plaintexts under valid keys never throw out of
 * receive(), never hang, and close the session at most once with a code from the table.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodePayload, encodeControlPayload, encodeStreamPayload, FRAME_OVERHEAD, openFrame, sealFrame } from '../../channel/frame.js';
import { deriveSessionKeys } from '../../channel/keys.js';
import { SecureSession } from '../../channel/secure-session.js';
import { ERRORS, isErrorCode, TetherError } from '../../protocol/index.js';
import { FUZZ_RUNS } from './fuzz-input.js';

const MAX_FRAME = 64 * 1024;

function serverSession() {
  const salt = randomBytes(32);
  const established = { keys: deriveSessionKeys(randomBytes(32), salt, 0), salt };
  const closes: Array<{ code: number; reason: string }> = [];
  const errors: Array<TetherError | null> = [];
  const session = new SecureSession({
    role: 'server', established, maxFrameBytes: MAX_FRAME,
    transport: { send: () => undefined, close: (code, reason) => closes.push({ code, reason }) },
    onMessage: () => undefined, onStream: () => undefined, onClose: (e) => errors.push(e),
  });
  const keys = established.keys;
  return { session, closes, errors, seal: (counter: bigint, plaintext: Buffer, epoch = 0) => sealFrame(keys.c2sKey, keys.c2sIv, epoch, counter, plaintext) };
}

/** A closed session closed once, with a table code as close code and reason. */
function expectCodedClose(s: ReturnType<typeof serverSession>): void {
  expect(s.errors.length).toBeLessThanOrEqual(1);
  if (s.errors.length === 0) return;
  const [close] = s.closes;
  expect(close && isErrorCode(close.reason)).toBe(true);
  if (close && isErrorCode(close.reason)) expect(close.code).toBe(ERRORS[close.reason].close);
}

const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));

describe('fuzz: frame decoder and session receive path', () => {
  it('openFrame / decodePayload: random bytes end in a payload or a frame code', ({ annotate }) => {
    const key = randomBytes(32);
    const iv = randomBytes(4);
    fc.assert(fc.property(bytes(256), (frame) => {
      try {
        openFrame(key, iv, frame);
      } catch (err) {
        expect(err instanceof TetherError && ['FRAME_MALFORMED', 'FRAME_AUTH_FAILED'].includes(err.code)).toBe(true);
      }
      try {
        decodePayload(frame);
      } catch (err) {
        expect(err instanceof TetherError && ['FRAME_MALFORMED', 'MESSAGE_MALFORMED'].includes(err.code)).toBe(true);
      }
    }), { numRuns: FUZZ_RUNS * 5 });
    void annotate(`${FUZZ_RUNS * 5} random frames: FRAME_MALFORMED / FRAME_AUTH_FAILED / MESSAGE_MALFORMED`);
  });

  it('receive(): random, truncated, bit-flipped and oversized frames close once with a code', ({ annotate }) => {
    const frames = fc.oneof(
      bytes(512),
      fc.integer({ min: 0, max: FRAME_OVERHEAD + 4 }).map((n) => randomBytes(n)),
      fc.constant(null).map(() => randomBytes(MAX_FRAME + 1)),
    );
    fc.assert(fc.property(frames, (frame) => {
      const s = serverSession();
      s.session.receive(frame);
      expect(s.session.closed).toBe(true);
      expectCodedClose(s);
    }), { numRuns: FUZZ_RUNS });

    const valid = encodeControlPayload(JSON.stringify({ type: 'evt', name: 'x', data: { a: [1, 2, 3] } }));
    fc.assert(fc.property(fc.nat(), fc.integer({ min: 0, max: 7 }), fc.nat({ max: 64 }), (pos, bit, cut) => {
      const s = serverSession();
      const frame = s.seal(0n, valid);
      const flipped = Buffer.from(frame);
      flipped[pos % flipped.length] = (flipped[pos % flipped.length] ?? 0) ^ (1 << bit);
      s.session.receive(cut % 2 === 0 ? flipped : frame.subarray(0, Math.max(0, frame.length - cut)));
      expect(s.session.closed).toBe(true);
      expectCodedClose(s);
    }), { numRuns: FUZZ_RUNS });
    void annotate('every bad frame: one coded close (FRAME_*), no throw');
  });

  it('receive(): any plaintext under valid keys is handled or closes with a code; sequences keep the replay rule', ({ annotate }) => {
    const plaintext = fc.oneof(
      bytes(300),
      bytes(300).map((b) => Buffer.concat([Buffer.from([0x01]), b])),
      fc.jsonValue({ maxDepth: 4 }).map((v) => encodeControlPayload(JSON.stringify(v))),
      fc.tuple(fc.nat(), bytes(100)).map(([id, b]) => encodeStreamPayload(id % 2 ** 32, b)),
      fc.constantFrom('ping', 'pong', 'rekey_ack', 'welcome', 'res').map((type) => encodeControlPayload(JSON.stringify({ type, ts: 1, id: 1, ok: true }))),
    );
    let handled = 0;
    fc.assert(fc.property(fc.array(fc.tuple(plaintext, fc.integer({ min: 0, max: 3 })), { minLength: 1, maxLength: 8 }), (steps) => {
      const s = serverSession();
      let counter = 0n;
      const started = performance.now();
      for (const [p, jump] of steps) {
        // jump 0 re-sends the previous counter (a replay), others move forward.
        counter = jump === 0 && counter > 0n ? counter - 1n : counter + BigInt(jump);
        s.session.receive(s.seal(counter, p));
        counter++;
        if (s.session.closed) break;
        handled++;
      }
      expect(performance.now() - started).toBeLessThan(1_000);
      expectCodedClose(s);
    }), { numRuns: FUZZ_RUNS });
    void annotate(`${handled} frames accepted, the rest closed with a code`);
  });
});
