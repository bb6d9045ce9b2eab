import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe } from 'vitest';
import { TetherError } from '../../protocol/index.js';
import type { Engine } from '../../backend/store/engine.js';
import { openStore, type OpenedStore } from '../../backend/store/open-store.js';
import { createTestDatabase } from './test-database.js';

export const ENGINES: readonly Engine[] = ['sqlite', 'postgres'];

/**
 * Opens a fresh, empty store per test on each engine: SQLite files in a temporary home, and on
 * PostgreSQL a schema of its own in a database this file creates (and drops when it is done).
 * `body` gets a getter for the current test's store.
 */
export function describeEachEngine(name: string, body: (store: () => OpenedStore, engine: Engine) => void): void {
  for (const engine of ENGINES) {
    describe(`${name} [${engine}]`, () => {
      let database: { url: string; drop(): Promise<void> } | undefined;
      let current: OpenedStore | undefined;
      let home = '';
      beforeEach(async () => {
        home = mkdtempSync(join(tmpdir(), 'tether-store-'));
        if (engine === 'postgres') database ??= await createTestDatabase();
        current = await openStore({ home, databaseUrl: database?.url, schema: engine === 'postgres' ? `t_${randomBytes(5).toString('hex')}` : undefined });
      });
      afterEach(async () => {
        await current?.close();
        current = undefined;
        rmSync(home, { recursive: true, force: true });
      });
      afterAll(async () => {
        await database?.drop();
      });
      body(() => {
        if (!current) throw new Error('no store outside a test');
        return current;
      }, engine);
    });
  }
}

/** The code a promise rejects with ('none' when it resolves): what concurrency cases count. */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'none';
  } catch (err) {
    return err instanceof TetherError ? err.code : String(err);
  }
}
