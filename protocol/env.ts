import { z } from 'zod';
import { TetherError } from './errors.js';

/**
 * Environment variables as a schema: one zod object per process (backend/env.ts, agent/env.ts),
 * each field a variable whose `.describe()` is its meaning in `--help`. Parsing is pure (the
 * caller passes `process.env`), so the same code serves every process and its tests.
 */
export type EnvSchema = z.ZodObject<Record<string, z.ZodOptional<z.ZodType>>>;

/** A positive whole number given as text, e.g. `TETHER_SHELL_IDLE_MS=8000`. */
export const envPositiveInt = () => z.string().regex(/^\d+$/, 'must be a positive whole number').transform(Number).pipe(z.number().int().positive('must be a positive whole number').max(Number.MAX_SAFE_INTEGER));

/** `0` or `1`. */
export const envFlag = () => z.enum(['0', '1'], 'must be 0 or 1').transform((value) => value === '1');

/**
 * The variables of `schema` read from `env` once, at start. An empty value counts as unset (as
 * `VAR= cmd` means in a shell); a bad value is BAD_REQUEST naming the variable and what it needs.
 */
export function parseEnv<S extends EnvSchema>(schema: S, env: Readonly<Record<string, string | undefined>>): z.output<S> {
  const present: Record<string, string> = {};
  for (const name of Object.keys(schema.shape)) {
    const value = env[name];
    if (value !== undefined && value !== '') present[name] = value;
  }
  const parsed = schema.safeParse(present);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const name = String(issue?.path[0] ?? '');
  throw new TetherError('BAD_REQUEST', `${name}=${JSON.stringify(present[name] ?? '')}: ${issue?.message ?? 'invalid'}`);
}

/** The `Environment variables:` section of `--help`: every variable of `schema` with its meaning. */
export function envHelp(schema: EnvSchema): string {
  const names = Object.keys(schema.shape);
  const width = Math.max(...names.map((n) => n.length)) + 2;
  const lines = names.map((name) => `  ${name.padEnd(width)}${schema.shape[name]?.description ?? ''}`);
  return `\nEnvironment variables (an empty value counts as unset):\n${lines.join('\n')}\n`;
}
