import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { envFlag, envHelp, envPositiveInt, parseEnv } from './env.js';

const Env = z.object({
  T_PATH: z.string().optional().describe('a path'),
  T_MS: envPositiveInt().optional().describe('a duration in ms'),
  T_FLAG: envFlag().optional().describe('0 or 1'),
});

describe('parseEnv', () => {
  it('reads only its variables, typed, with empty values as unset', () => {
    expect(parseEnv(Env, { T_PATH: '/x', T_MS: '8000', T_FLAG: '0', HOME: '/root', T_OTHER: 'y' })).toEqual({ T_PATH: '/x', T_MS: 8000, T_FLAG: false });
    expect(parseEnv(Env, { T_PATH: '', T_MS: '' })).toEqual({});
  });

  it('refuses a bad value with BAD_REQUEST naming the variable and what it needs', () => {
    for (const [name, value] of [['T_MS', 'abc'], ['T_MS', '-5'], ['T_MS', '1.5'], ['T_MS', '0'], ['T_FLAG', 'yes']] as const) {
      let thrown: unknown;
      try {
        parseEnv(Env, { [name]: value });
      } catch (err) {
        thrown = err;
      }
      expect(thrown, `${name}=${value}`).toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(new RegExp(`^${name}="${value.replace('.', '\\.')}": must be`)) });
    }
  });
});

describe('envHelp', () => {
  it('lists every variable with its meaning', () => {
    const help = envHelp(Env);
    expect(help).toMatch(/T_PATH +a path\n/);
    expect(help).toMatch(/T_MS +a duration in ms\n/);
    expect(help).toMatch(/T_FLAG +0 or 1\n/);
  });
});
