import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/**
 * ARCHITECTURE.md §1: each row is an import that lint must refuse (or allow).
 * The imported modules are real files, so the resolver sees exactly what a developer would write.
 */
const cases: Array<{ file: string; source: string; allowed: boolean }> = [
  { file: 'protocol/x.ts', source: "import '../channel/pin.js';", allowed: false },
  { file: 'protocol/x.ts', source: "import 'node:fs';", allowed: false },
  { file: 'protocol/x.ts', source: "import { z } from 'zod'; export const s = z.string();", allowed: true },
  { file: 'channel/x.ts', source: "import '../backend/main.js';", allowed: false },
  { file: 'channel/x.ts', source: "import '../protocol/index.js';", allowed: true },
  { file: 'backend/x.ts', source: "import '../agent/main.js';", allowed: false },
  { file: 'backend/x.ts', source: "import '../channel/pin.js'; import '../protocol/index.js';", allowed: true },
  { file: 'agent/x.ts', source: "import '../backend/main.js';", allowed: false },
  { file: 'renderer/x.ts', source: "import 'node:path';", allowed: false },
  { file: 'renderer/x.ts', source: "import 'fs';", allowed: false },
  { file: 'renderer/x.ts', source: "import 'electron';", allowed: false },
  { file: 'renderer/x.ts', source: "import '../channel/pin.js';", allowed: false },
  { file: 'renderer/x.ts', source: "import '../protocol/index.js';", allowed: true },
  { file: 'electron/x.ts', source: "import '../renderer/main.js';", allowed: false },
  { file: 'electron/x.ts', source: "import '../protocol/index.js';", allowed: true },
  { file: 'cli/x.ts', source: "import '../backend/main.js';", allowed: false },
  { file: 'cli/x.ts', source: "import '../agent/enrol/register.js';", allowed: false },
  { file: 'cli/x.ts', source: "import '../channel/pinned-ca.js';", allowed: true },
  { file: 'cli/x.ts', source: "import '../renderer/shell/terminal-connection.js';", allowed: false },
  { file: 'cli/x.ts', source: "import '../protocol/index.js'; import 'node:fs';", allowed: true },
  { file: 'backend/x.ts', source: "import '../cli/main.js';", allowed: false },
  { file: 'backend/x.ts', source: 'export const f = (v: any) => v;', allowed: false },
  { file: 'backend/devices/x.ts', source: "import Database from 'better-sqlite3'; export const d = Database;", allowed: false },
  { file: 'backend/devices/x.ts', source: "import pg from 'pg'; export const p = pg;", allowed: false },
  { file: 'backend/devices/x.ts', source: "import { sql } from 'kysely'; export const s = sql;", allowed: false },
  { file: 'backend/store/x.ts', source: "import pg from 'pg'; export const p = pg;", allowed: false },
  { file: 'backend/store/x.ts', source: "import { sql } from 'kysely'; export const s = sql;", allowed: true },
  { file: 'backend/store/sqlite/x.ts', source: "import Database from 'better-sqlite3'; export const d = Database;", allowed: true },
  { file: 'backend/store/postgres/x.ts', source: "import pg from 'pg'; export const p = pg;", allowed: true },
  { file: 'backend/devices/x.test.ts', source: "import Database from 'better-sqlite3'; export const d = Database;", allowed: true },
  { file: 'backend/devices/x.ts', source: "import { connect } from 'nats'; export const c = connect;", allowed: false },
  { file: 'backend/store/postgres/x.ts', source: "import { connect } from 'nats'; export const c = connect;", allowed: false },
  { file: 'backend/cluster/x.ts', source: "import { connect } from 'nats'; export const c = connect;", allowed: true },
  { file: 'backend/cluster/x.ts', source: "import pg from 'pg'; export const p = pg;", allowed: false },
];

describe('import rules (ARCHITECTURE §1) are enforced by lint', () => {
  const eslint = new ESLint({ cwd: process.cwd() });
  it.each(cases)('$file: $source → allowed=$allowed', async ({ file, source, allowed }) => {
    const [result] = await eslint.lintText(`${source}\n`, { filePath: file });
    const errors = (result?.messages ?? []).filter((m) => m.severity === 2);
    if (allowed) expect(errors).toEqual([]);
    else expect(errors.map((m) => m.ruleId)).toEqual(
      expect.arrayContaining([expect.stringMatching(/no-restricted-paths|no-restricted-imports|no-explicit-any/)]),
    );
  }, 30_000);
});
