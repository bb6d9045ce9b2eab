/**
 * `npm run bench -- [scenario ...]`: runs the named scenarios (all when none is named), prints a
 * table and merges the results into bench/results/latest.json as { scenario: { metric: number } },
 * and beside it, in bench/results/runs.json, when and at which commit each scenario last ran.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agent } from './agent.js';
import { cluster } from './cluster.js';
import { config } from './config.js';
import { connect } from './connect.js';
import { consoleScenario } from './console.js';
import { fanout } from './fanout.js';
import { ingest } from './ingest.js';
import { ingestPostgres } from './ingest-postgres.js';
import { query } from './query.js';
import { rtt } from './rtt.js';
import { shell } from './shell.js';
import { storm } from './storm.js';
import { transfer } from './transfer.js';

type Scenario = () => Promise<Record<string, number>>;

const SCENARIOS: Record<string, Scenario> = { connect, rtt, ingest, 'ingest-postgres': ingestPostgres, query, agent, shell, fanout, config, console: consoleScenario, storm, transfer, cluster };

const RESULTS_DIR = join(import.meta.dirname, 'results');
const LATEST = join(RESULTS_DIR, 'latest.json');
const RUNS = join(RESULTS_DIR, 'runs.json');

function readJson<T>(file: string): Record<string, T> {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, T>;
  } catch {
    return {};
  }
}

/** The commit measured, marked dirty when the tree had uncommitted changes (results files aside). */
function currentCommit(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: import.meta.dirname, encoding: 'utf8' }).trim();
    return `${git('rev-parse', 'HEAD')}${git('status', '--porcelain', '--untracked-files=no', '--', ':(top)', ':(top,exclude)bench/results') ? '-dirty' : ''}`;
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const names = process.argv.slice(2);
  const unknown = names.filter((n) => !(n in SCENARIOS));
  if (unknown.length > 0) {
    process.stderr.write(`unknown scenario(s): ${unknown.join(', ')}; known: ${Object.keys(SCENARIOS).join(', ')}\n`);
    process.exit(2);
  }
  const results = readJson<Record<string, number>>(LATEST);
  const runs = readJson<{ commit: string; startedAt: string; seconds: number }>(RUNS);
  const commit = currentCommit();
  for (const name of names.length > 0 ? names : Object.keys(SCENARIOS)) {
    process.stderr.write(`── ${name}\n`);
    const scenario = SCENARIOS[name];
    if (!scenario) continue;
    const startedAt = new Date();
    results[name] = await scenario();
    runs[name] = { commit, startedAt: startedAt.toISOString(), seconds: Math.round((Date.now() - startedAt.getTime()) / 1000) };
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(LATEST, `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(RUNS, `${JSON.stringify(runs, null, 2)}\n`);
    console.table(results[name]);
  }
}

await main();
