import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { TetherError } from '../../protocol/index.js';

/**
 * `tether-backend serve --config FILE`: the settings a service manager passes in one file
 * (build/backend/backend.example.json). Unknown keys are refused, so a typo is an error at
 * start instead of a setting silently ignored. Relative paths are relative to the file.
 */
export const ServiceConfigFile = z.strictObject({
  home: z.string().min(1).optional(),
  listen: z.string().min(1).optional(),
  publicUrl: z.url({ protocol: /^https$/ }).optional(),
  agentDistDir: z.string().min(1).optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).optional(),
});
export type ServiceConfigFile = z.infer<typeof ServiceConfigFile>;

export function readServiceConfig(file: string): ServiceConfigFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new TetherError('BAD_REQUEST', `Cannot read the config file ${file}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
  const parsed = ServiceConfigFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TetherError('BAD_REQUEST', `${file}: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
  }
  const base = dirname(resolve(file));
  const config = parsed.data;
  return {
    ...config,
    ...(config.home ? { home: resolve(base, config.home) } : {}),
    ...(config.agentDistDir ? { agentDistDir: resolve(base, config.agentDistDir) } : {}),
  };
}

export type OptionSource = 'default' | 'config' | 'env' | 'cli' | 'implied' | undefined;

/**
 * One setting from its three places: a flag or TETHER_* variable (commander reports which)
 * wins over the file, which wins over the built-in default.
 */
export function pickSetting<T>(flagValue: T, source: OptionSource, fileValue: T | undefined): T {
  if (source === 'cli' || source === 'env') return flagValue;
  return fileValue ?? flagValue;
}
