import { TetherError } from '../../protocol/index.js';

/**
 * The metric chunk codec: the samples of one series (timestamps plus up to 8 value columns) in a
 * compact, lossless byte string. Pure: no database, no I/O.
 *
 * Ideas from Prometheus's tsdb/chunkenc/xor.go (Gorilla: delta-of-delta timestamps, XOR
 * floats) and VictoriaMetrics's lib/decimal (floats that are decimals stored as scaled
 * integers); the code is ours.
 *
 * Layout, one MSB-first bit stream:
 *   u8 version · uvarint sample count n · uvarint column count c
 *   timestamps (n > 0): ts[0] as zigzag varint, then delta-of-deltas in Gorilla-like
 *     buckets whose widths are chosen per chunk (see writeTimestamps).
 *   per column (n > 0): a 3-bit kind, then that kind's body (see the KIND_* notes).
 *   zero bits up to the byte boundary.
 *
 * Every sample costs at least one bit of the timestamp stream, which is what lets the decoder
 * check a sample count against the input's size before it allocates anything.
 */

const VERSION = 1;
/** Bounds on what one chunk may hold; the decoder allocates at most (1 + c) × n × 8 bytes. */
export const MAX_CHUNK_SAMPLES = 1 << 20;
export const MAX_CHUNK_COLUMNS = 8;

/** All values bit-identical: 64 raw bits, nothing per sample. */
const KIND_CONST = 0;
/** Decimal, frame of reference: k, min as zigzag varint, width w, then value − min in w bits each. */
const KIND_FOR = 1;
/**
 * Decimal, frame of reference packed in mixed radix: k, min, range R as uvarint, then groups of
 * g offsets read as one base-(R+1) number, g as large as fits 53 bits. For R+1 that is not a
 * power of two this saves up to a bit per value: 2-decimal values in [0, 100) cost 13.33
 * bits instead of 14 (their information content is 13.29).
 */
const KIND_PACKED = 2;
/**
 * Decimal, deltas: k, first integer and smallest delta b as zigzag varints, widths W, w0, w1
 * (6 bits each, chosen per chunk), then per later value its delta − b as '0'+w0 · '10'+w1 ·
 * '11'+W bits, or in W bits with no prefix when w0 = W.
 */
const KIND_DELTA = 3;
/** Gorilla XOR of the 64-bit patterns (every float64, NaN payloads included). */
const KIND_XOR = 4;
/**
 * Near-decimal: decimals but for a few ulps of float arithmetic, such as a rollup's sum of
 * 2-decimal values (12.34 + 56.78 is 69.12000000000001). Body: a decimal column (kind, k,
 * body) of the values rounded to k decimals, then widths W, w0, w1 and per value, as in
 * KIND_DELTA, the zigzag difference between its bit pattern and its rounded decimal's.
 */
const KIND_NEAR = 5;
/** Beyond this a value is not "near" a decimal: XOR is as good. */
const MAX_NEAR_ULPS = 2 ** 16;

const MAX_DECIMAL_EXPONENT = 9;
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];
const POW2: number[] = [];
for (let i = 0; i <= 64; i++) POW2.push(2 ** i);
const TWO_53 = 2 ** 53;

// Floats are handled as two uint32 halves through Uint32Array views of Float64Arrays.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const HI = LITTLE_ENDIAN ? 1 : 0;
const LO = LITTLE_ENDIAN ? 0 : 1;

function corrupt(why: string): never {
  throw new TetherError('CHUNK_CORRUPT', `Metric chunk is corrupt: ${why}`);
}

/** Number of bits needed for a non-negative integer below 2^53 (0 for 0). */
function bitLength(x: number): number {
  if (x < POW2[32]!) return 32 - Math.clz32(x);
  return 64 - Math.clz32(Math.floor(x / POW2[32]!));
}

function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

interface BitSink {
  /** Writes the n (≤ 53) low bits of a non-negative integer value < 2^n, most significant first. */
  write(value: number, n: number): void;
}

class BitCounter implements BitSink {
  bits = 0;
  write(_value: number, n: number): void {
    this.bits += n;
  }
}

class BitWriter implements BitSink {
  private buf = new Uint8Array(256);
  private len = 0;
  /** Fewer than 8 pending bits, low-aligned. */
  private acc = 0;
  private accBits = 0;

  write(value: number, n: number): void {
    while (n > 24) {
      n -= 24;
      const top = Math.floor(value / POW2[n]!);
      this.write24(top, 24);
      value -= top * POW2[n]!;
    }
    this.write24(value, n);
  }

  private write24(value: number, n: number): void {
    let acc = (this.acc << n) | value;
    let bits = this.accBits + n;
    while (bits >= 8) {
      bits -= 8;
      if (this.len === this.buf.length) this.grow();
      this.buf[this.len++] = (acc >>> bits) & 0xff;
    }
    acc &= (1 << bits) - 1;
    this.acc = acc;
    this.accBits = bits;
  }

  private grow(): void {
    const next = new Uint8Array(this.buf.length * 2);
    next.set(this.buf);
    this.buf = next;
  }

  finish(): Uint8Array {
    if (this.accBits > 0) this.write24(0, 8 - this.accBits);
    return this.buf.slice(0, this.len);
  }
}

class BitReader {
  private pos = 0;
  private readonly limit: number;
  /** The input plus 4 zero bytes, so a 32-bit window never reads past the end. */
  private readonly bytes: Uint8Array;
  constructor(input: Uint8Array) {
    this.limit = input.length * 8;
    this.bytes = new Uint8Array(input.length + 4);
    this.bytes.set(input);
  }

  remaining(): number {
    return this.limit - this.pos;
  }

  bit(): number {
    if (this.pos >= this.limit) corrupt('truncated');
    const p = this.pos++;
    return (this.bytes[p >>> 3]! >>> (7 - (p & 7))) & 1;
  }

  /** Reads n (≤ 53) bits as a non-negative integer. */
  read(n: number): number {
    if (this.pos + n > this.limit) corrupt('truncated');
    let v = 0;
    while (n > 24) {
      n -= 24;
      v = v * POW2[24]! + this.read24(24);
    }
    return v * POW2[n]! + this.read24(n);
  }

  private read24(n: number): number {
    if (n === 0) return 0;
    const p = this.pos;
    const b = this.bytes;
    const i = p >>> 3;
    const word = (b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!;
    this.pos = p + n;
    return (word << (p & 7)) >>> (32 - n);
  }
}

function writeUvarint(w: BitSink, v: number): void {
  while (v >= 128) {
    const q = Math.floor(v / 128);
    w.write((v - q * 128) | 128, 8);
    v = q;
  }
  w.write(v, 8);
}

function readUvarint(r: BitReader): number {
  let v = 0;
  let mult = 1;
  for (let i = 0; ; i++) {
    if (i === 8) corrupt('varint too long');
    const b = r.read(8);
    v += (b & 127) * mult;
    if (b < 128) break;
    mult *= 128;
  }
  if (!Number.isSafeInteger(v)) corrupt('varint out of range');
  return v;
}

/**
 * Zigzag varint of a safe integer, computed without forming 2|v| (which float64 cannot hold
 * exactly near 2^53): the low byte carries the sign bit and 6 magnitude bits.
 */
function writeZigzagVarint(w: BitSink, v: number): void {
  const neg = v < 0;
  const m = neg ? -v - 1 : v;
  const rest = Math.floor(m / 64);
  w.write(((m - rest * 64) * 2 + (neg ? 1 : 0)) | (rest > 0 ? 128 : 0), 8);
  if (rest > 0) writeUvarint(w, rest);
}

function readZigzagVarint(r: BitReader): number {
  const b = r.read(8);
  const rest = b & 128 ? readUvarint(r) : 0;
  const m = rest * 64 + ((b >>> 1) & 63);
  const v = b & 1 ? -m - 1 : m;
  if (!Number.isSafeInteger(v)) corrupt('varint out of range');
  return v;
}

// ---------------------------------------------------------------- timestamps

/**
 * Picks the two short widths of a '0'+w0 · '10'+w1 · longer-codes scheme that minimise the
 * total size, from a histogram of bit lengths (hist[len] = how many need len bits). The codes
 * after the first two cost `longCost` bits each (prefix and payload). hist is made cumulative.
 */
function chooseWidths(hist: Float64Array, wMax: number, total: number, longCost: number): { w0: number; w1: number } {
  for (let w = 1; w <= wMax; w++) hist[w]! += hist[w - 1]!;
  let best = Infinity;
  let w0 = 0;
  let w1 = 0;
  for (let a = 0; a <= wMax; a++) {
    const ca = hist[a]!;
    for (let b = a; b <= wMax; b++) {
      const cb = hist[b]!;
      const cost = ca * (1 + a) + (cb - ca) * (2 + b) + (total - cb) * longCost;
      if (cost < best) {
        best = cost;
        w0 = a;
        w1 = b;
      }
    }
  }
  return { w0, w1 };
}

/** Deltas-of-deltas beyond this, or not exact, are written as absolute timestamps. */
const MAX_DOD = 2 ** 51;

/**
 * Timestamps after the first: per sample the zigzag delta-of-delta against the previous delta
 * (the first against 0, so it carries the first delta), after a header of three widths
 * W, w0, w1 chosen for this chunk: '0'+w0 · '10'+w1 · '110'+W bits, or '111' + sign + 53 bits
 * of an absolute timestamp for a jump no delta can carry exactly. Regular intervals cost one
 * bit per sample; a few ms of jitter costs w0 ≈ 4..5 bits more.
 */
function writeTimestamps(w: BitSink, ts: ArrayLike<number>): void {
  const n = ts.length;
  writeZigzagVarint(w, ts[0]!);
  if (n < 2) return;
  // First pass: the zigzag dods (NaN where an absolute timestamp is due) and their widths.
  const zs = new Float64Array(n);
  const hist = new Float64Array(55);
  let wMax = 0;
  let escapes = 0;
  let prevTs = ts[0]!;
  let prevDelta = 0;
  for (let i = 1; i < n; i++) {
    const t = ts[i]!;
    // A safe delta or dod is exact: float64 subtraction of safe integers only rounds beyond 2^53.
    const delta = t - prevTs;
    const dod = delta - prevDelta;
    if (Number.isSafeInteger(delta) && Math.abs(dod) <= MAX_DOD) {
      const z = dod >= 0 ? 2 * dod : -2 * dod - 1;
      zs[i] = z;
      const len = bitLength(z);
      hist[len]!++;
      if (len > wMax) wMax = len;
      prevDelta = delta;
    } else {
      zs[i] = NaN;
      escapes++;
      prevDelta = Number.isSafeInteger(delta) ? delta : 0;
    }
    prevTs = t;
  }
  const { w0, w1 } = chooseWidths(hist, wMax, n - 1 - escapes, 3 + wMax);
  w.write(wMax, 6);
  w.write(w0, 6);
  w.write(w1, 6);
  for (let i = 1; i < n; i++) {
    const z = zs[i]!;
    if (Number.isNaN(z)) {
      const t = ts[i]!;
      w.write(0b111, 3);
      w.write(t < 0 ? 1 : 0, 1);
      w.write(Math.abs(t), 53);
      continue;
    }
    const len = bitLength(z);
    if (len <= w0) {
      w.write(0, 1);
      w.write(z, w0);
    } else if (len <= w1) {
      w.write(0b10, 2);
      w.write(z, w1);
    } else {
      w.write(0b110, 3);
      w.write(z, wMax);
    }
  }
}

function readTimestamps(r: BitReader, out: Float64Array): void {
  const n = out.length;
  let prevTs = readZigzagVarint(r);
  out[0] = prevTs;
  if (n < 2) return;
  const wMax = r.read(6);
  const w0 = r.read(6);
  const w1 = r.read(6);
  if (wMax > 53 || w1 > wMax || w0 > w1) corrupt('timestamp widths out of range');
  let prevDelta = 0;
  for (let i = 1; i < n; i++) {
    let t: number;
    let ones = 0;
    while (ones < 3 && r.bit() === 1) ones++;
    if (ones < 3) {
      const z = r.read(ones === 0 ? w0 : ones === 1 ? w1 : wMax);
      prevDelta += z % 2 === 1 ? -(z + 1) / 2 : z / 2;
      t = prevTs + prevDelta;
    } else {
      const neg = r.bit();
      t = r.read(53);
      if (neg) t = -t;
      const delta = t - prevTs;
      prevDelta = Number.isSafeInteger(delta) ? delta : 0;
    }
    if (!Number.isSafeInteger(t) || !Number.isSafeInteger(prevDelta)) corrupt('timestamp out of range');
    out[i] = t;
    prevTs = t;
  }
}

// ---------------------------------------------------------------- values

/**
 * The smallest k ≤ 9 at which every value is an integer m / 10^k with |m| < 2^53 that divides
 * back to the very same float64 (so -0, NaN and ±Inf never qualify), or -1.
 */
function decimalExponent(values: Float64Array): number {
  let k = 0;
  for (let i = 0; i < values.length; i++) {
    if (!isDecimalAt(values[i]!, POW10[k]!)) {
      if (++k > MAX_DECIMAL_EXPONENT) return -1;
      // Exactness at a smaller k does not strictly imply it at a larger one: recheck from the start.
      i = -1;
    }
  }
  return k;
}

function isDecimalAt(v: number, p: number): boolean {
  const m = Math.round(v * p);
  return Math.abs(m) < TWO_53 && m / p === v && (v !== 0 || Object.is(v, 0));
}

interface Plan {
  kind: number;
  bits: number;
  /** KIND_DELTA: the smallest delta, and the widths of delta − base. */
  base: number;
  w0: number;
  w1: number;
  wMax: number;
}

function planDelta(ints: Float64Array): Plan | null {
  const n = ints.length;
  let base = Infinity;
  for (let i = 1; i < n; i++) {
    const d = ints[i]! - ints[i - 1]!;
    if (!Number.isSafeInteger(d)) return null;
    if (d < base) base = d;
  }
  const hist = new Float64Array(55);
  let wMax = 0;
  for (let i = 1; i < n; i++) {
    const u = ints[i]! - ints[i - 1]! - base;
    if (!Number.isSafeInteger(u)) return null;
    const len = bitLength(u);
    hist[len]!++;
    if (len > wMax) wMax = len;
  }
  return { kind: KIND_DELTA, bits: 0, base, ...planWidths(hist, wMax, n - 1) };
}

interface Widths {
  w0: number;
  w1: number;
  wMax: number;
}

/**
 * Widths for non-negative integers written as '0'+w0 · '10'+w1 · '11'+wMax bits, or all in
 * wMax bits without prefixes (signalled by w0 = wMax) when that is smaller.
 */
function planWidths(hist: Float64Array, wMax: number, count: number): Widths {
  let { w0, w1 } = chooseWidths(hist, wMax, count, 2 + wMax);
  const tiered = hist[w0]! * (1 + w0) + (hist[w1]! - hist[w0]!) * (2 + w1) + (count - hist[w1]!) * (2 + wMax);
  if (count * wMax <= tiered) w0 = w1 = wMax;
  return { w0, w1, wMax };
}

function writeWidths(w: BitSink, p: Widths): void {
  w.write(p.wMax, 6);
  w.write(p.w0, 6);
  w.write(p.w1, 6);
}

function writeTiered(w: BitSink, u: number, p: Widths): void {
  if (p.w0 === p.wMax) {
    w.write(u, p.wMax);
    return;
  }
  const len = bitLength(u);
  if (len <= p.w0) {
    w.write(0, 1);
    w.write(u, p.w0);
  } else if (len <= p.w1) {
    w.write(0b10, 2);
    w.write(u, p.w1);
  } else {
    w.write(0b11, 2);
    w.write(u, p.wMax);
  }
}

function readWidths(r: BitReader, limit: number): Widths {
  const wMax = r.read(6);
  const w0 = r.read(6);
  const w1 = r.read(6);
  if (wMax > limit || w1 > wMax || w0 > w1) corrupt('widths out of range');
  return { w0, w1, wMax };
}

function readTiered(r: BitReader, p: Widths): number {
  if (p.w0 === p.wMax) return r.read(p.wMax);
  if (r.bit() === 0) return r.read(p.w0);
  return r.read(r.bit() === 0 ? p.w1 : p.wMax);
}

/** How many base-radix digits fit one 53-bit group, and radix^g. */
function radixGroup(radix: number): { g: number; prod: number } {
  // Callers check; a radix of 1 would never leave the loop.
  if (!(radix >= 2)) throw new RangeError(`radix ${radix} is below 2`);
  let g = 0;
  let prod = 1;
  // The product is exact while below 2^53, and rounds to ≥ 2^53 otherwise.
  while (prod * radix < TWO_53) {
    prod *= radix;
    g++;
  }
  return { g, prod };
}

function writeColumnBody(w: BitSink, plan: Plan, values: Float64Array, bits: Uint32Array, ints: Float64Array, k: number): void {
  const n = plan.kind === KIND_CONST || plan.kind === KIND_XOR ? values.length : ints.length;
  w.write(plan.kind, 3);
  switch (plan.kind) {
    case KIND_CONST:
      w.write(bits[HI]!, 32);
      w.write(bits[LO]!, 32);
      return;
    case KIND_FOR:
    case KIND_PACKED: {
      let min = ints[0]!;
      let max = min;
      for (let i = 1; i < n; i++) {
        const m = ints[i]!;
        if (m < min) min = m;
        if (m > max) max = m;
      }
      w.write(k, 4);
      writeZigzagVarint(w, min);
      const range = max - min;
      if (plan.kind === KIND_FOR) {
        const width = bitLength(range);
        w.write(width, 6);
        for (let i = 0; i < n; i++) w.write(ints[i]! - min, width);
        return;
      }
      writeUvarint(w, range);
      const radix = range + 1;
      const { g, prod } = radixGroup(radix);
      const groupBits = bitLength(prod - 1);
      let i = 0;
      for (; i + g <= n; i += g) {
        let acc = 0;
        for (let j = i + g - 1; j >= i; j--) acc = acc * radix + (ints[j]! - min);
        w.write(acc, groupBits);
      }
      if (i < n) {
        let acc = 0;
        let tailProd = 1;
        for (let j = n - 1; j >= i; j--) {
          acc = acc * radix + (ints[j]! - min);
          tailProd *= radix;
        }
        w.write(acc, bitLength(tailProd - 1));
      }
      return;
    }
    case KIND_DELTA: {
      w.write(k, 4);
      writeZigzagVarint(w, ints[0]!);
      writeZigzagVarint(w, plan.base);
      writeWidths(w, plan);
      for (let i = 1; i < n; i++) writeTiered(w, ints[i]! - ints[i - 1]! - plan.base, plan);
      return;
    }
    case KIND_XOR:
      writeXor(w, bits, n);
      return;
    default:
      throw new Error(`unknown column kind ${plan.kind}`);
  }
}

function writeXor(w: BitSink, bits: Uint32Array, n: number): void {
  let pHi = bits[HI]!;
  let pLo = bits[LO]!;
  w.write(pHi, 32);
  w.write(pLo, 32);
  let wLead = -1;
  let wTrail = 0;
  for (let i = 1; i < n; i++) {
    const hi = bits[2 * i + HI]!;
    const lo = bits[2 * i + LO]!;
    const xHi = (hi ^ pHi) >>> 0;
    const xLo = (lo ^ pLo) >>> 0;
    pHi = hi;
    pLo = lo;
    if (xHi === 0 && xLo === 0) {
      w.write(0, 1);
      continue;
    }
    let lead = xHi !== 0 ? Math.clz32(xHi) : 32 + Math.clz32(xLo);
    const trail = xLo !== 0 ? ctz32(xLo) : 32 + ctz32(xHi);
    if (lead > 31) lead = 31; // 5 bits, as in Prometheus
    let shift: number;
    let sig: number;
    if (wLead >= 0 && lead >= wLead && trail >= wTrail) {
      w.write(0b10, 2);
      shift = wTrail;
      sig = 64 - wLead - wTrail;
    } else {
      sig = 64 - lead - trail;
      w.write(0b11, 2);
      w.write(lead, 5);
      w.write(sig & 63, 6); // 64 significant bits are written as 0
      wLead = lead;
      wTrail = trail;
      shift = trail;
    }
    // (xHi:xLo) >>> shift, then its sig low bits.
    let sHi: number;
    let sLo: number;
    if (shift === 0) {
      sHi = xHi;
      sLo = xLo;
    } else if (shift < 32) {
      sLo = ((xLo >>> shift) | (xHi << (32 - shift))) >>> 0;
      sHi = xHi >>> shift;
    } else {
      sLo = xHi >>> (shift - 32);
      sHi = 0;
    }
    if (sig > 32) {
      w.write(sHi, sig - 32);
      w.write(sLo, 32);
    } else {
      w.write(sLo, sig);
    }
  }
}

function readColumn(r: BitReader, out: Float64Array, nested = false): number {
  const n = out.length;
  const kind = r.read(3);
  if (nested && kind !== KIND_FOR && kind !== KIND_PACKED && kind !== KIND_DELTA) corrupt('a near-decimal column holds no decimal column');
  if (kind === KIND_NEAR) {
    readColumn(r, out, true);
    const widths = readWidths(r, bitLength(2 * MAX_NEAR_ULPS));
    const outBits = new Uint32Array(out.buffer, out.byteOffset, n * 2);
    for (let i = 0; i < n; i++) {
      const z = readTiered(r, widths);
      const d = z % 2 === 1 ? -(z + 1) / 2 : z / 2;
      const lo = outBits[2 * i + LO]! + d;
      const carry = Math.floor(lo / POW2[32]!);
      outBits[2 * i + LO] = lo - carry * POW2[32]!;
      outBits[2 * i + HI] = outBits[2 * i + HI]! + carry;
    }
    return kind;
  }
  if (kind === KIND_CONST) {
    const hi = r.read(32);
    const lo = r.read(32);
    const outBits = new Uint32Array(out.buffer, out.byteOffset, n * 2);
    for (let i = 0; i < n; i++) {
      outBits[2 * i + HI] = hi;
      outBits[2 * i + LO] = lo;
    }
    return kind;
  }
  if (kind === KIND_XOR) {
    readXor(r, out);
    return kind;
  }
  if (kind !== KIND_FOR && kind !== KIND_PACKED && kind !== KIND_DELTA) corrupt(`unknown column kind ${kind}`);
  const k = r.read(4);
  if (k > MAX_DECIMAL_EXPONENT) corrupt('decimal exponent out of range');
  const p = POW10[k]!;
  if (kind === KIND_FOR) {
    const min = readZigzagVarint(r);
    const width = r.read(6);
    if (width > 53) corrupt('width out of range');
    if (n * width > r.remaining()) corrupt('truncated');
    for (let i = 0; i < n; i++) out[i] = checkedInt(min + r.read(width)) / p;
  } else if (kind === KIND_PACKED) {
    const min = readZigzagVarint(r);
    const range = readUvarint(r);
    if (range < 2 || range >= TWO_53 - 1) corrupt('radix out of range');
    const radix = range + 1;
    const { g, prod } = radixGroup(radix);
    const groupBits = bitLength(prod - 1);
    let i = 0;
    for (; i + g <= n; i += g) {
      let acc = r.read(groupBits);
      if (acc >= prod) corrupt('packed group out of range');
      for (let j = i; j < i + g; j++) {
        const u = acc % radix;
        acc = (acc - u) / radix;
        out[j] = checkedInt(min + u) / p;
      }
    }
    if (i < n) {
      let tailProd = 1;
      for (let j = i; j < n; j++) tailProd *= radix;
      let acc = r.read(bitLength(tailProd - 1));
      if (acc >= tailProd) corrupt('packed group out of range');
      for (let j = i; j < n; j++) {
        const u = acc % radix;
        acc = (acc - u) / radix;
        out[j] = checkedInt(min + u) / p;
      }
    }
  } else {
    let m = readZigzagVarint(r);
    const base = readZigzagVarint(r);
    const widths = readWidths(r, 53);
    out[0] = checkedInt(m) / p;
    for (let i = 1; i < n; i++) {
      m += base + readTiered(r, widths);
      out[i] = checkedInt(m) / p;
    }
  }
  return kind;
}

function checkedInt(m: number): number {
  if (!(Math.abs(m) < TWO_53)) corrupt('decimal out of range');
  return m;
}

function readXor(r: BitReader, out: Float64Array): void {
  const n = out.length;
  const outBits = new Uint32Array(out.buffer, out.byteOffset, n * 2);
  let pHi = r.read(32);
  let pLo = r.read(32);
  outBits[HI] = pHi;
  outBits[LO] = pLo;
  let wLead = -1;
  let wTrail = 0;
  for (let i = 1; i < n; i++) {
    if (r.bit() === 1) {
      if (r.bit() === 1) {
        wLead = r.read(5);
        let sig = r.read(6);
        if (sig === 0) sig = 64;
        if (wLead + sig > 64) corrupt('XOR window out of range');
        wTrail = 64 - wLead - sig;
      } else if (wLead < 0) {
        corrupt('XOR window reused before it was set');
      }
      const sig = 64 - wLead - wTrail;
      let sHi = 0;
      let sLo: number;
      if (sig > 32) {
        sHi = r.read(sig - 32);
        sLo = r.read(32);
      } else {
        sLo = r.read(sig);
      }
      const shift = wTrail;
      let xHi: number;
      let xLo: number;
      if (shift === 0) {
        xHi = sHi;
        xLo = sLo;
      } else if (shift < 32) {
        xHi = ((sHi << shift) | (sLo >>> (32 - shift))) >>> 0;
        xLo = (sLo << shift) >>> 0;
      } else {
        xHi = (sLo << (shift - 32)) >>> 0;
        xLo = 0;
      }
      pHi = (pHi ^ xHi) >>> 0;
      pLo = (pLo ^ xLo) >>> 0;
    }
    outBits[2 * i + HI] = pHi;
    outBits[2 * i + LO] = pLo;
  }
}

function asFloat64(col: ArrayLike<number>): Float64Array {
  return col instanceof Float64Array ? col : Float64Array.from(col);
}

const scratchF64 = new Float64Array(1);
const scratchU32 = new Uint32Array(scratchF64.buffer);

/**
 * The smallest k at which every value lies within MAX_NEAR_ULPS of a decimal m / 10^k of the
 * same sign; the integers m and the zigzag bit-pattern differences. Null if there is none.
 */
function nearDecimal(values: Float64Array, bits: Uint32Array): { k: number; ints: Float64Array; zigzags: Float64Array } | null {
  const n = values.length;
  const ints = new Float64Array(n);
  const zigzags = new Float64Array(n);
  for (let k = 0; k <= MAX_DECIMAL_EXPONENT; k++) {
    const p = POW10[k]!;
    let i = 0;
    for (; i < n; i++) {
      const m = Math.round(values[i]! * p) + 0;
      if (!(Math.abs(m) < TWO_53)) break;
      scratchF64[0] = m / p;
      const hi = bits[2 * i + HI]!;
      const qHi = scratchU32[HI]!;
      if ((hi ^ qHi) >>> 31 !== 0) break;
      const d = (hi - qHi) * POW2[32]! + (bits[2 * i + LO]! - scratchU32[LO]!);
      if (!(Math.abs(d) <= MAX_NEAR_ULPS)) break;
      ints[i] = m;
      zigzags[i] = d >= 0 ? 2 * d : -2 * d - 1;
    }
    if (i === n) return { k, ints, zigzags };
  }
  return null;
}

/** The cheapest integer encoding of a decimal column (kind, k and body), with its size. */
function bestDecimalPlan(ints: Float64Array, k: number, counter: BitCounter): Plan {
  const n = ints.length;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const m = ints[i]!;
    if (m < min) min = m;
    if (m > max) max = m;
  }
  const none = new Float64Array(0);
  const candidates: Plan[] = [];
  const range = max - min;
  if (Number.isSafeInteger(range)) {
    candidates.push({ kind: KIND_FOR, bits: 0, w0: 0, w1: 0, wMax: 0, base: 0 });
    if (range >= 2 && range < TWO_53 - 1 && radixGroup(range + 1).g >= 2) candidates.push({ kind: KIND_PACKED, bits: 0, w0: 0, w1: 0, wMax: 0, base: 0 });
  }
  const delta = planDelta(ints);
  if (delta) candidates.push(delta);
  let best: Plan = { kind: KIND_XOR, bits: Infinity, w0: 0, w1: 0, wMax: 0, base: 0 };
  for (const plan of candidates) {
    counter.bits = 0;
    writeColumnBody(counter, plan, none, new Uint32Array(0), ints, k);
    plan.bits = counter.bits;
    if (plan.bits < best.bits) best = plan;
  }
  return best;
}

function encodeColumn(w: BitWriter, col: ArrayLike<number>): void {
  // Bits are read through a Uint32Array view, so a Float64Array's NaN payloads survive exactly.
  const values = asFloat64(col);
  const n = values.length;
  const bits = new Uint32Array(values.buffer, values.byteOffset, n * 2);
  const hi0 = bits[HI]!;
  const lo0 = bits[LO]!;
  let constant = true;
  for (let i = 1; i < n && constant; i++) constant = bits[2 * i + HI] === hi0 && bits[2 * i + LO] === lo0;
  const none = new Float64Array(0);
  if (constant) {
    writeColumnBody(w, { kind: KIND_CONST, bits: 0, w0: 0, w1: 0, wMax: 0, base: 0 }, values, bits, none, 0);
    return;
  }
  const counter = new BitCounter();
  const xor: Plan = { kind: KIND_XOR, bits: 0, w0: 0, w1: 0, wMax: 0, base: 0 };
  writeColumnBody(counter, xor, values, bits, none, 0);
  xor.bits = counter.bits;
  const k = decimalExponent(values);
  if (k >= 0) {
    const p = POW10[k]!;
    const ints = new Float64Array(n);
    for (let i = 0; i < n; i++) ints[i] = Math.round(values[i]! * p) + 0;
    const best = bestDecimalPlan(ints, k, counter);
    if (best.bits < xor.bits) writeColumnBody(w, best, values, bits, ints, k);
    else writeColumnBody(w, xor, values, bits, none, 0);
    return;
  }
  const near = nearDecimal(values, bits);
  if (near) {
    const inner = bestDecimalPlan(near.ints, near.k, counter);
    const hist = new Float64Array(55);
    let wMax = 0;
    for (let i = 0; i < n; i++) {
      const len = bitLength(near.zigzags[i]!);
      hist[len]!++;
      if (len > wMax) wMax = len;
    }
    const widths = planWidths(hist, wMax, n);
    counter.bits = 0;
    for (let i = 0; i < n; i++) writeTiered(counter, near.zigzags[i]!, widths);
    if (3 + inner.bits + 18 + counter.bits < xor.bits) {
      w.write(KIND_NEAR, 3);
      writeColumnBody(w, inner, values, bits, near.ints, near.k);
      writeWidths(w, widths);
      for (let i = 0; i < n; i++) writeTiered(w, near.zigzags[i]!, widths);
      return;
    }
  }
  writeColumnBody(w, xor, values, bits, none, 0);
}

/** Encodes samples of one series; ts are integer ms (any order, duplicates allowed; order is preserved), columns are value columns of equal length (1 for raw samples; 4 for rollups: count, sum, min, max). */
export function encodeChunk(ts: ArrayLike<number>, columns: ReadonlyArray<ArrayLike<number>>): Uint8Array {
  const n = ts.length;
  if (n > MAX_CHUNK_SAMPLES) throw new RangeError(`A chunk holds at most ${MAX_CHUNK_SAMPLES} samples, got ${n}`);
  if (columns.length > MAX_CHUNK_COLUMNS) throw new RangeError(`A chunk holds at most ${MAX_CHUNK_COLUMNS} columns, got ${columns.length}`);
  for (let i = 0; i < n; i++) {
    if (!Number.isSafeInteger(ts[i])) throw new RangeError(`Timestamp ${i} is not an integer number of ms within ±2^53: ${ts[i]}`);
  }
  for (const col of columns) {
    if (col.length !== n) throw new RangeError(`Every column needs ${n} values, got ${col.length}`);
  }
  const w = new BitWriter();
  w.write(VERSION, 8);
  writeUvarint(w, n);
  writeUvarint(w, columns.length);
  if (n > 0) {
    writeTimestamps(w, ts);
    for (const col of columns) encodeColumn(w, col);
  }
  return w.finish();
}

/** Decodes a chunk; throws TetherError('CHUNK_CORRUPT', ...) on any malformed input, never hangs, never allocates unboundedly from a length field it has not checked against the input size. */
export function decodeChunk(bytes: Uint8Array): { ts: Float64Array; columns: Float64Array[] } {
  const { ts, columns } = decodeWithKinds(bytes);
  return { ts, columns };
}

export type ChunkColumnEncoding = 'constant' | 'decimal-for' | 'decimal-packed' | 'decimal-delta' | 'xor' | 'near-decimal';
const KIND_NAMES: readonly ChunkColumnEncoding[] = ['constant', 'decimal-for', 'decimal-packed', 'decimal-delta', 'xor', 'near-decimal'];

/** The encoding the encoder chose for each column (diagnostics, tests, benchmarks); decodes the chunk to find them. */
export function chunkColumnEncodings(bytes: Uint8Array): ChunkColumnEncoding[] {
  return decodeWithKinds(bytes).kinds.map((k) => KIND_NAMES[k]!);
}

function decodeWithKinds(bytes: Uint8Array): { ts: Float64Array; columns: Float64Array[]; kinds: number[] } {
  const r = new BitReader(bytes);
  const version = r.read(8);
  if (version !== VERSION) corrupt(`unknown version ${version}`);
  const n = readUvarint(r);
  const c = readUvarint(r);
  if (n > MAX_CHUNK_SAMPLES) corrupt(`sample count ${n} exceeds ${MAX_CHUNK_SAMPLES}`);
  if (c > MAX_CHUNK_COLUMNS) corrupt(`column count ${c} exceeds ${MAX_CHUNK_COLUMNS}`);
  // The first timestamp takes at least 8 bits, every later one at least 1, each column at least 3.
  if (n > 0 && 8 + (n - 1) + 3 * c > r.remaining()) corrupt(`sample count ${n} does not fit ${bytes.length} bytes`);
  const ts = new Float64Array(n);
  const columns: Float64Array[] = [];
  const kinds: number[] = [];
  if (n > 0) readTimestamps(r, ts);
  for (let j = 0; j < c; j++) {
    const col = new Float64Array(n);
    if (n > 0) kinds.push(readColumn(r, col));
    columns.push(col);
  }
  const rest = r.remaining();
  if (rest >= 8 || (rest > 0 && r.read(rest) !== 0)) corrupt('trailing bytes');
  return { ts, columns, kinds };
}
