import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TetherError } from '../../protocol/index.js';
import { decodeChunk, encodeChunk } from './chunk-codec.js';

/** Per-decode bound: far above a real decode of these sizes (microseconds), far below a hang. */
const DECODE_BUDGET_MS = 250;

/** Decoding must give a consistent result or CHUNK_CORRUPT, nothing else, and promptly. */
function decodeOrCorrupt(bytes: Uint8Array): void {
  const start = performance.now();
  try {
    const out = decodeChunk(bytes);
    for (const col of out.columns) expect(col.length).toBe(out.ts.length);
    for (const t of out.ts) expect(Number.isSafeInteger(t)).toBe(true);
  } catch (err) {
    if (!(err instanceof TetherError) || err.code !== 'CHUNK_CORRUPT') throw err;
  }
  expect(performance.now() - start).toBeLessThan(DECODE_BUDGET_MS);
}

const valueArb = fc.oneof(fc.double(), fc.integer({ min: 0, max: 10000 }).map((x) => x / 100), fc.constantFrom(12, NaN, -0));

/** Valid chunks of every column kind, to be damaged. */
const chunkArb = fc
  .tuple(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 3 }))
  .chain(([n, c, shape]) =>
    fc.tuple(
      fc.array(fc.integer({ min: -20, max: 20 }), { minLength: n, maxLength: n }).map((jitter) => jitter.map((j, i) => 1_767_225_600_000 + i * 5_000 + (shape === 0 ? j : 0))),
      fc.array(
        fc.oneof(
          fc.array(valueArb, { minLength: n, maxLength: n }),
          valueArb.map((v) => new Array<number>(n).fill(v)),
          fc.integer({ min: 0, max: 100 }).map((start) => Array.from({ length: n }, (_, i) => (start + i) / 10)),
          // Float sums of decimals (near-decimal columns).
          fc.array(fc.integer({ min: -10000, max: 10000 }), { minLength: n, maxLength: n }).map((xs) => xs.map((x, i) => x / 100 + i / 100 + 0.07)),
        ),
        { minLength: c, maxLength: c },
      ),
    ),
  )
  .map(([ts, columns]) => encodeChunk(ts, columns));

type Mutation = { at: number; kind: 'flip' | 'set' | 'insert' | 'delete'; value: number };

function mutate(bytes: Uint8Array, mutations: Mutation[]): Uint8Array {
  let out = Array.from(bytes);
  for (const m of mutations) {
    const at = out.length === 0 ? 0 : m.at % out.length;
    switch (m.kind) {
      case 'flip':
        if (out.length > 0) out[at] = out[at]! ^ (1 << (m.value & 7));
        break;
      case 'set':
        if (out.length > 0) out[at] = m.value & 0xff;
        break;
      case 'insert':
        out.splice(at, 0, m.value & 0xff);
        break;
      case 'delete':
        out = out.filter((_, i) => i !== at);
        break;
    }
  }
  return Uint8Array.from(out);
}

const mutationArb = fc.record({ at: fc.nat(), kind: fc.constantFrom('flip' as const, 'set' as const, 'insert' as const, 'delete' as const), value: fc.nat() });

describe('chunk codec fuzz', () => {
  it('decodes arbitrary bytes to a result or CHUNK_CORRUPT', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => decodeOrCorrupt(bytes)), { numRuns: 3000 });
  });

  it('decodes arbitrary bytes behind a valid version byte to a result or CHUNK_CORRUPT', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => decodeOrCorrupt(Uint8Array.of(1, ...bytes))), { numRuns: 3000 });
  });

  it('decodes mutated valid chunks to a result or CHUNK_CORRUPT', () => {
    fc.assert(fc.property(chunkArb, fc.array(mutationArb, { minLength: 1, maxLength: 4 }), (chunk, mutations) => decodeOrCorrupt(mutate(chunk, mutations))), { numRuns: 3000 });
  });

  it('decodes every truncation of valid chunks to CHUNK_CORRUPT', () => {
    fc.assert(
      fc.property(chunkArb, (chunk) => {
        for (let len = 0; len < chunk.length; len++) {
          expect(() => decodeChunk(chunk.subarray(0, len))).toThrow(expect.objectContaining({ code: 'CHUNK_CORRUPT' }));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('refuses huge sample counts and column counts without allocating for them', () => {
    // version 1, n = 2^20 (the maximum), c = 1, then far too few bytes for 2^20 samples.
    expect(() => decodeChunk(Uint8Array.of(1, 0x80, 0x80, 0x40, 1, 0, 0, 0))).toThrow(expect.objectContaining({ code: 'CHUNK_CORRUPT' }));
    // n beyond the maximum, and a column count beyond it.
    expect(() => decodeChunk(Uint8Array.of(1, 0xff, 0xff, 0xff, 0xff, 0x0f, 1))).toThrow(expect.objectContaining({ code: 'CHUNK_CORRUPT' }));
    expect(() => decodeChunk(Uint8Array.of(1, 1, 9, 0))).toThrow(expect.objectContaining({ code: 'CHUNK_CORRUPT' }));
  });
});
