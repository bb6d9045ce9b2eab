/**
 * fast-check arbitraries shared by the fuzz tests: random JSON, and valid samples mutated at a
 * random path (value replaced, key dropped, key added, wrong type), which reach deeper into a
 * schema than random JSON does.
 */
import fc from 'fast-check';

/** Runs per property: quick inside `npm test`, many with TETHER_HARDENING_LONG=1. */
export const FUZZ_RUNS = process.env.TETHER_HARDENING_LONG === '1' ? 20_000 : 300;

export const LONG = process.env.TETHER_HARDENING_LONG === '1';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Every path to a value inside `value` (the root is []). */
function paths(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
  else if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  return out;
}

type Mutation = { kind: 'replace'; with: unknown } | { kind: 'drop' } | { kind: 'add'; key: string; with: unknown };

function apply(sample: unknown, path: Array<string | number>, mutation: Mutation): unknown {
  const copy: unknown = structuredClone(sample);
  if (path.length === 0) return mutation.kind === 'replace' ? mutation.with : copy;
  let parent: unknown = copy;
  for (const step of path.slice(0, -1)) parent = (parent as Record<string | number, unknown>)[step];
  const last = path[path.length - 1] as string | number;
  const holder = parent as Record<string | number, unknown>;
  const target = holder[last];
  switch (mutation.kind) {
    case 'replace':
      holder[last] = mutation.with;
      break;
    case 'drop':
      if (Array.isArray(holder)) holder.splice(Number(last), 1);
      else delete holder[last];
      break;
    case 'add':
      if (typeof target === 'object' && target !== null && !Array.isArray(target)) (target as Record<string, unknown>)[mutation.key] = mutation.with;
      else holder[last] = { [mutation.key]: mutation.with };
      break;
  }
  return copy;
}

const nasty = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom<unknown>(
    -1, 0, 1.5, Number.MAX_SAFE_INTEGER + 2, -0, 1e308, '', ' ', '__proto__', 'constructor', 'a'.repeat(70_000), [], {}, null, true,
    { __proto__: { polluted: true } }, '\u0000', '\ud800', '../../etc/passwd',
  ),
);

/** `sample` with one to three random mutations at random paths. */
export function mutated(sample: Json): fc.Arbitrary<unknown> {
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    fc.record({ kind: fc.constant('replace' as const), with: nasty }),
    fc.constant({ kind: 'drop' as const }),
    fc.record({ kind: fc.constant('add' as const), key: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'type')), with: nasty }),
  );
  return fc.array(fc.tuple(fc.nat(), mutation), { minLength: 1, maxLength: 3 }).map((steps) => {
    let value: unknown = sample;
    for (const [pick, m] of steps) {
      const all = paths(value);
      value = apply(value, all[pick % all.length] ?? [], m);
    }
    return value;
  });
}

/** Random JSON values, including the odd shapes parsers trip on. */
export const anyJson: fc.Arbitrary<unknown> = fc.oneof(fc.jsonValue({ maxDepth: 6 }), nasty, fc.dictionary(fc.string({ maxLength: 10 }), nasty));

export type { Json };
