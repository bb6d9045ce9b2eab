import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TetherError } from '../../protocol/index.js';
import { MAX_CHUNK_COLUMNS, MAX_CHUNK_SAMPLES, chunkColumnEncodings, decodeChunk, encodeChunk, type ChunkColumnEncoding } from './chunk-codec.js';

const T0 = Date.UTC(2026, 0, 1);

function bitsOf(values: ArrayLike<number>): Uint32Array {
  const f = Float64Array.from(values);
  return new Uint32Array(f.buffer);
}

function expectSameBits(actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  const a = bitsOf(actual);
  const e = bitsOf(expected);
  // A byte comparison first: toEqual over 100k-element arrays is slow; it only runs to show a difference.
  if (a.length !== e.length || !Buffer.from(a.buffer).equals(Buffer.from(e.buffer))) expect(Array.from(a)).toEqual(Array.from(e));
}

/** Round-trips and compares bit patterns, so -0, NaN and subnormals count as they are. */
function expectRoundTrip(ts: ArrayLike<number>, columns: ReadonlyArray<ArrayLike<number>>): Uint8Array {
  const bytes = encodeChunk(ts, columns);
  const out = decodeChunk(bytes);
  expectSameBits(out.ts, ts);
  expect(out.columns).toHaveLength(columns.length);
  columns.forEach((col, j) => expectSameBits(out.columns[j]!, col));
  return bytes;
}

function regularTs(n: number, step = 5_000, start = T0): number[] {
  return Array.from({ length: n }, (_, i) => start + i * step);
}

function twoDecimals(n: number): number[] {
  return Array.from({ length: n }, () => Math.floor(Math.random() * 10000) / 100);
}

/** A 1-decimal series that climbs by 0.0..0.3 a step, like a temperature warming up: too wide for a frame of reference. */
function risingWalk(n: number): number[] {
  let v = 20;
  return Array.from({ length: n }, () => (v = Math.round((v + Math.floor(Math.random() * 4) / 10) * 10) / 10));
}

const SPECIALS = [NaN, Infinity, -Infinity, -0, 0, Number.MIN_VALUE, -Number.MIN_VALUE, 2.2250738585072014e-308 / 3, Number.MAX_VALUE, -Number.MAX_VALUE, Number.EPSILON];

/** Values of every shape the codec distinguishes (every kind of float, decimals, repeats, counters, specials). */
function columnArb(n: number): fc.Arbitrary<number[]> {
  const fixed = (item: fc.Arbitrary<number>) => fc.array(item, { minLength: n, maxLength: n });
  return fc.oneof(
    fixed(fc.double()),
    fixed(fc.integer({ min: -1_000_000, max: 1_000_000 }).map((x) => x / 100)),
    fixed(fc.integer({ min: 0, max: 9 }).chain((k) => fc.integer({ min: -(10 ** 6), max: 10 ** 6 }).map((x) => x / 10 ** k))),
    fixed(fc.maxSafeInteger()),
    fc.constantFrom(...SPECIALS, 12, 720, 42.5).map((v) => new Array<number>(n).fill(v)),
    fixed(fc.constantFrom(...SPECIALS, 1.5, 3)),
    fc.tuple(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), fixed(fc.integer({ min: -3, max: 5 }))).map(([start, steps]) => {
      let v = Math.round(start * 10) / 10;
      return steps.map((s) => (v = Math.round((v + s / 10) * 10) / 10));
    }),
    // Float sums of 2-decimal values: decimals but for the last few bits.
    fixed(fc.array(fc.integer({ min: -10000, max: 10000 }), { minLength: 1, maxLength: 12 }).map((xs) => xs.reduce((sum, x) => sum + x / 100, 0))),
    // Decimal except for one value: the column must fall back to XOR.
    fc.tuple(fixed(fc.integer({ min: 0, max: 10000 }).map((x) => x / 100)), fc.double(), fc.nat()).map(([vs, odd, at]) => {
      if (vs.length > 0) vs[at % vs.length] = odd;
      return vs;
    }),
  );
}

function timestampsArb(n: number): fc.Arbitrary<number[]> {
  const fixed = (item: fc.Arbitrary<number>) => fc.array(item, { minLength: n, maxLength: n });
  return fc.oneof(
    // Regular, with jitter, gaps and the occasional step back (out of order) or repeat.
    fc.tuple(fc.integer({ min: -(2 ** 45), max: 2 ** 45 }), fc.integer({ min: 1, max: 3_600_000 }), fixed(fc.oneof(fc.constant(0), fc.integer({ min: -20, max: 20 }), fc.integer({ min: -(2 ** 33), max: 2 ** 33 })))).map(
      ([start, step, jitter]) => jitter.map((j, i) => start + i * step + j),
    ),
    fixed(fc.maxSafeInteger()),
    fixed(fc.integer({ min: T0, max: T0 + 100 })),
    fixed(fc.constantFrom(Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 0, -1, 1, T0)),
  );
}

const seriesArb = fc
  .tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 1, max: 4 }))
  .chain(([n, c]) => fc.tuple(timestampsArb(n), fc.array(columnArb(n), { minLength: c, maxLength: c })));

describe('chunk codec round trip', () => {
  it('is lossless for random series (every kind of float), decimals, repeats, irregular, out-of-order and duplicate timestamps, 1..4 mixed columns', () => {
    const seen = new Set<ChunkColumnEncoding>();
    fc.assert(
      fc.property(seriesArb, ([ts, columns]) => {
        for (const kind of chunkColumnEncodings(expectRoundTrip(ts, columns))) seen.add(kind);
      }),
      { numRuns: 1000 },
    );
    // The generators reach every encoding, so every decoder path was round-tripped.
    expect([...seen].sort()).toEqual(['constant', 'decimal-delta', 'decimal-for', 'decimal-packed', 'near-decimal', 'xor']);
  });

  it('chooses the encoding that fits each shape of values', () => {
    const n = 720;
    const ts = regularTs(n);
    const byte = Array.from({ length: n }, (_, i) => (i < 2 ? i * 255 : Math.floor(Math.random() * 256)));
    const smooth = risingWalk(n);
    const withNaN = twoDecimals(n);
    withNaN[100] = NaN;
    const floatSums = Array.from({ length: n }, () => twoDecimals(12).reduce((a, b) => a + b, 0));
    const columns = [new Array<number>(n).fill(720), twoDecimals(n), byte, smooth, withNaN, Array.from({ length: n }, () => Math.random()), floatSums];
    expect(chunkColumnEncodings(expectRoundTrip(ts, columns))).toEqual(['constant', 'decimal-packed', 'decimal-for', 'decimal-delta', 'xor', 'xor', 'near-decimal']);
  });

  it('keeps NaN, ±Inf, -0 and subnormals bit for bit, NaN payloads included when given a Float64Array', () => {
    expectRoundTrip(regularTs(SPECIALS.length), [SPECIALS]);
    expectRoundTrip(regularTs(SPECIALS.length * 2), [[...SPECIALS, ...SPECIALS.reverse()]]);
    const payloads = new Float64Array(4);
    const bits = new Uint32Array(payloads.buffer);
    // Quiet NaNs with payloads, a negative NaN, and the canonical one.
    bits.set([0x1234, 0x7ff80000, 1, 0x7ff00000 | 1, 0, 0xfff80000, 0, 0x7ff80000]);
    const out = decodeChunk(encodeChunk(regularTs(4), [payloads]));
    expect(new Uint32Array(out.columns[0]!.buffer)).toEqual(bits);
    // A constant column of one NaN payload, and one where only the payloads differ.
    const same = new Float64Array(3);
    new Uint32Array(same.buffer).set([7, 0x7ff80000, 7, 0x7ff80000, 7, 0x7ff80000]);
    expect(new Uint32Array(decodeChunk(encodeChunk(regularTs(3), [same])).columns[0]!.buffer)).toEqual(new Uint32Array(same.buffer));
    const differ = new Float64Array(2);
    new Uint32Array(differ.buffer).set([7, 0x7ff80000, 8, 0x7ff80000]);
    expect(new Uint32Array(decodeChunk(encodeChunk(regularTs(2), [differ])).columns[0]!.buffer)).toEqual(new Uint32Array(differ.buffer));
    // -0 among decimals must not become 0.
    expectRoundTrip(regularTs(4), [[1.5, -0, 2.25, 0]]);
  });

  it('handles the empty chunk, a single sample and no columns', () => {
    for (const c of [0, 1, 4]) {
      const empty = decodeChunk(encodeChunk([], Array.from({ length: c }, () => [])));
      expect(empty.ts).toHaveLength(0);
      expect(empty.columns).toHaveLength(c);
    }
    expectRoundTrip([T0], [[42.42]]);
    expectRoundTrip([Number.MIN_SAFE_INTEGER], [[NaN], [-0], [1e-310], [12]]);
    expectRoundTrip(regularTs(10), []);
  });

  it('handles timestamps at the ends of the safe range and jumps between them', () => {
    const ts = [Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 0, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER - 1, -1, 2 ** 31, -(2 ** 31), 2 ** 32 + 1];
    expectRoundTrip(ts, [ts.map((_, i) => i)]);
  });

  it('round-trips 100,000 samples in one chunk', () => {
    const n = 100_000;
    const ts = regularTs(n, 5_000).map((t, i) => (i % 97 === 0 ? t + 3 : t));
    let walk = 50;
    const smooth = Array.from({ length: n }, () => (walk = Math.round((walk + Math.random() - 0.5) * 10) / 10));
    const noise = Array.from({ length: n }, () => Math.random());
    expectRoundTrip(ts, [twoDecimals(n), smooth, noise, new Array<number>(n).fill(12)]);
  });

  it('rejects timestamps that are not integer ms within ±2^53, ragged columns and oversize chunks with a RangeError', () => {
    for (const bad of [1.5, NaN, Infinity, 2 ** 53, -(2 ** 53)]) {
      expect(() => encodeChunk([T0, bad], [[1, 2]])).toThrow(RangeError);
    }
    expect(() => encodeChunk([T0, T0 + 1], [[1]])).toThrow(RangeError);
    expect(() => encodeChunk([T0], Array.from({ length: MAX_CHUNK_COLUMNS + 1 }, () => [1]))).toThrow(RangeError);
    expect(() => encodeChunk(new Float64Array(MAX_CHUNK_SAMPLES + 1), [])).toThrow(RangeError);
  });
});

describe('chunk codec size', () => {
  const perSample = (bytes: Uint8Array, n: number) => bytes.length / n;

  it('regular 5 s timestamps with a constant value cost < 0.3 bytes per sample', () => {
    const bytes = expectRoundTrip(regularTs(720), [new Array<number>(720).fill(12)]);
    console.log(`regular 5 s + constant: ${perSample(bytes, 720).toFixed(3)} bytes/sample (${bytes.length} bytes for 720)`);
    expect(perSample(bytes, 720)).toBeLessThan(0.3);
  });

  it('uniform random values with two decimals in [0, 100), 5 s apart, cost ≤ 2.0 bytes per sample', () => {
    let total = 0;
    const chunks = 20;
    for (let c = 0; c < chunks; c++) {
      const bytes = expectRoundTrip(regularTs(720, 5_000, T0 + c * 3_600_000), [twoDecimals(720)]);
      expect(perSample(bytes, 720)).toBeLessThanOrEqual(2.0);
      total += bytes.length;
    }
    console.log(`random 2-decimal [0, 100), 720 per chunk: ${(total / (chunks * 720)).toFixed(3)} bytes/sample (information content 1.66)`);
  });

  it('a rollup whose count is constant pays for the count next to nothing', () => {
    const n = 720;
    const ts = regularTs(n, 60_000);
    const count = new Array<number>(n).fill(12);
    const sum: number[] = [];
    const min: number[] = [];
    const max: number[] = [];
    for (let i = 0; i < n; i++) {
      const raw = twoDecimals(12);
      sum.push(Math.round(raw.reduce((a, b) => a + b, 0) * 100) / 100);
      min.push(Math.min(...raw));
      max.push(Math.max(...raw));
    }
    const full = expectRoundTrip(ts, [count, sum, min, max]);
    const withoutCount = encodeChunk(ts, [sum, min, max]);
    console.log(`1-min rollup (count, sum, min, max), 720 per chunk: ${perSample(full, n).toFixed(3)} bytes/sample; the count column costs ${full.length - withoutCount.length} bytes`);
    expect(full.length - withoutCount.length).toBeLessThanOrEqual(9);
    // The sum as SQL's SUM() or a JS loop leaves it: float noise in the last bits, still ~2 bytes, not XOR's ~7.
    const floatSum = Array.from({ length: n }, () => twoDecimals(12).reduce((a, b) => a + b, 0));
    const rounded = encodeChunk(ts, [floatSum.map((v) => Math.round(v * 100) / 100)]);
    const noisy = expectRoundTrip(ts, [floatSum]);
    console.log(`rollup sum column: ${perSample(rounded, n).toFixed(3)} bytes/sample rounded, ${perSample(noisy, n).toFixed(3)} as a float sum`);
    expect(perSample(noisy, n)).toBeLessThan(perSample(rounded, n) + 1);
  });

  it('a slowly moving decimal series is delta-encoded in well under a byte per value', () => {
    const bytes = expectRoundTrip(regularTs(720), [risingWalk(720)]);
    console.log(`rising 1-decimal walk: ${perSample(bytes, 720).toFixed(3)} bytes/sample`);
    expect(perSample(bytes, 720)).toBeLessThan(0.6);
  });

  it('timestamps with a few ms of jitter cost well under a byte per sample', () => {
    const ts = regularTs(720).map((t) => t + Math.floor(Math.random() * 7) - 3);
    const bytes = expectRoundTrip(ts, [new Array<number>(720).fill(1)]);
    console.log(`5 s ± 3 ms jitter + constant: ${perSample(bytes, 720).toFixed(3)} bytes/sample`);
    expect(perSample(bytes, 720)).toBeLessThan(0.8);
  });

  it('decodes a 720-sample chunk in microseconds', () => {
    const bytes = encodeChunk(regularTs(720), [twoDecimals(720)]);
    const rounds = 2_000;
    for (let i = 0; i < 200; i++) decodeChunk(bytes);
    const start = performance.now();
    for (let i = 0; i < rounds; i++) decodeChunk(bytes);
    const us = ((performance.now() - start) * 1000) / rounds;
    console.log(`decode 720 random 2-decimal samples: ${us.toFixed(1)} µs`);
    expect(us).toBeLessThan(5_000);
  });
});

describe('chunk codec errors', () => {
  it('answers CHUNK_CORRUPT for an unknown version, truncation and trailing bytes', () => {
    const good = encodeChunk(regularTs(10), [twoDecimals(10)]);
    const codeOf = (bytes: Uint8Array) => {
      try {
        decodeChunk(bytes);
        return 'decoded';
      } catch (err) {
        return err instanceof TetherError ? err.code : String(err);
      }
    };
    expect(codeOf(new Uint8Array(0))).toBe('CHUNK_CORRUPT');
    expect(codeOf(Uint8Array.of(2, ...good.subarray(1)))).toBe('CHUNK_CORRUPT');
    expect(codeOf(good.subarray(0, good.length - 1))).toBe('CHUNK_CORRUPT');
    expect(codeOf(Uint8Array.of(...good, 0))).toBe('CHUNK_CORRUPT');
    // A sample count far beyond what the bytes can hold is refused before allocation.
    expect(codeOf(Uint8Array.of(1, 0xff, 0xff, 0x3f, 1, 0))).toBe('CHUNK_CORRUPT');
  });
});
