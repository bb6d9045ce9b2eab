import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { databaseUrlOption } from './database-url.js';
import { BACKEND_ENV_HELP, readBackendEnv } from './env.js';

describe('TETHER_DATABASE_URL', () => {
  it('takes a postgres:// or postgresql:// URL, and an empty value as unset (SQLite)', () => {
    expect(readBackendEnv({ TETHER_DATABASE_URL: 'postgres://tether:secret@db.example:5432/tether' })).toEqual({ TETHER_DATABASE_URL: 'postgres://tether:secret@db.example:5432/tether' });
    expect(readBackendEnv({ TETHER_DATABASE_URL: 'postgresql:///tether' })).toEqual({ TETHER_DATABASE_URL: 'postgresql:///tether' });
    // Everything left out comes from PGHOST, PGUSER, PGPASSWORD, … (pg reads them itself).
    expect(readBackendEnv({ TETHER_DATABASE_URL: 'postgres://' })).toEqual({ TETHER_DATABASE_URL: 'postgres://' });
    expect(readBackendEnv({ TETHER_DATABASE_URL: '' })).toEqual({});
  });

  it('refuses another scheme with BAD_REQUEST naming the variable', () => {
    for (const value of ['mysql://db/tether', 'db.example:5432', '/var/lib/tether.db']) {
      expect(() => readBackendEnv({ TETHER_DATABASE_URL: value }), value).toThrow(expect.objectContaining({ code: 'BAD_REQUEST', message: `TETHER_DATABASE_URL=${JSON.stringify(value)}: must be a postgres:// URL` }));
    }
  });

  it('is listed by --help with the PG* variables it falls back on', () => {
    expect(BACKEND_ENV_HELP).toMatch(/^ {2}TETHER_DATABASE_URL +postgres:\/\/.*PGUSER, PGPASSWORD, PGHOST, PGPORT, PGDATABASE$/m);
  });
});

describe('--database-url', () => {
  const parse = (args: string[], env: Record<string, string> = {}): string | undefined => {
    const saved = process.env.TETHER_DATABASE_URL;
    delete process.env.TETHER_DATABASE_URL;
    Object.assign(process.env, env);
    try {
      const command = new Command('t').exitOverride().configureOutput({ writeErr: () => undefined }).addOption(databaseUrlOption());
      command.parse(args, { from: 'user' });
      return command.opts<{ databaseUrl?: string }>().databaseUrl;
    } finally {
      if (saved === undefined) delete process.env.TETHER_DATABASE_URL;
      else process.env.TETHER_DATABASE_URL = saved;
    }
  };

  it('is unset (SQLite) by default and when the variable is empty', () => {
    expect(parse([])).toBeUndefined();
    // commander keeps an empty value as ''; every caller reads '' as unset.
    expect(parse([], { TETHER_DATABASE_URL: '' })).toBe('');
  });

  it('comes from the flag, else TETHER_DATABASE_URL; the flag wins', () => {
    expect(parse(['--database-url', 'postgres://a/one'])).toBe('postgres://a/one');
    expect(parse([], { TETHER_DATABASE_URL: 'postgres://b/two' })).toBe('postgres://b/two');
    expect(parse(['--database-url', 'postgres://a/one'], { TETHER_DATABASE_URL: 'postgres://b/two' })).toBe('postgres://a/one');
  });

  it('refuses a URL of another scheme, from the flag or the variable', () => {
    expect(() => parse(['--database-url', 'sqlite:///tmp/x.db'])).toThrow(/must be a postgres:\/\/ URL/);
    expect(() => parse([], { TETHER_DATABASE_URL: 'mysql://db' })).toThrow(/TETHER_DATABASE_URL.*must be a postgres:\/\/ URL/);
  });
});
