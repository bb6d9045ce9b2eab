/** count, sum, min and max of the values in one rollup bucket. */
export interface Aggregate {
  count: number;
  sum: number;
  min: number;
  max: number;
}

const MAX_DECIMALS = 9;
const POWERS = Array.from({ length: MAX_DECIMALS + 1 }, (_, k) => 10 ** k);

/**
 * The fewest decimal places that write `v` exactly (0 for integers), or -1 when none up to 9
 * does (NaN, ±Inf, or a value with binary noise in its last digits).
 */
export function decimalPlaces(v: number): number {
  for (let k = 0; k <= MAX_DECIMALS; k++) {
    const p = POWERS[k] as number;
    const scaled = v * p;
    if (Math.abs(scaled) >= Number.MAX_SAFE_INTEGER) return -1;
    if (Math.round(scaled) / p === v) return k;
  }
  return -1;
}

/**
 * Sum of values that are all decimals with at most k places, computed on integers scaled by 10^k,
 * so that 12 readings with two decimals sum to a number with two decimals (a float sum leaves
 * noise such as 148.07999999999998 that would cost a chunk codec ~8 bytes per value instead of ~2).
 * Falls back to a float sum when the values are not such decimals or the scaled sum is too large.
 */
export function exactSum(values: ArrayLike<number>): number {
  let places = 0;
  let plain = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    plain += v;
    if (places >= 0) {
      const k = decimalPlaces(v);
      places = k < 0 ? -1 : Math.max(places, k);
    }
  }
  if (places < 0) return plain;
  const p = POWERS[places] as number;
  let scaled = 0;
  for (let i = 0; i < values.length; i++) scaled += Math.round((values[i] as number) * p);
  return Number.isSafeInteger(scaled) ? scaled / p : plain;
}

/** Aggregates raw values (count, exact decimal sum, min, max); undefined when there are none. */
export function aggregate(values: ArrayLike<number>): Aggregate | undefined {
  if (values.length === 0) return undefined;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { count: values.length, sum: exactSum(values), min, max };
}

/** Merges finer aggregates into one (minutes into an hour); undefined when there are none. */
export function mergeAggregates(parts: readonly Aggregate[]): Aggregate | undefined {
  if (parts.length === 0) return undefined;
  let count = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const p of parts) {
    count += p.count;
    if (p.min < min) min = p.min;
    if (p.max > max) max = p.max;
  }
  return { count, sum: exactSum(parts.map((p) => p.sum)), min, max };
}
