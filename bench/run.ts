/**
 * `npm run bench -- [scenario ...]`: runs the named scenarios (all when none is named), prints a
 * table and merges the results into bench/results/latest.json as { scenario: { metric: number } }.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agent } from './agent.js';
import { config } from './config.js';
import { connect } from './connect.js';
import { consoleScenario } from './console.js';
import { fanout } from './fanout.js';
import { ingest } from './ingest.js';
import { query } from './query.js';
import { rtt } from './rtt.js';
import { shell } from './shell.js';
import { storm } from './storm.js';

type Scenario = () => Promise<Record<string, number>>;

const SCENARIOS: Record<string, Scenario> = { connect, rtt, ingest, query, agent, shell, fanout, config, console: consoleScenario, storm };

const RESULTS_DIR = join(import.meta.dirname, 'results');
const LATEST = join(RESULTS_DIR, 'latest.json');

function readLatest(): Record<string, Record<string, number>> {
  try {
    return JSON.parse(readFileSync(LATEST, 'utf8')) as Record<string, Record<string, number>>;
  } catch {
    return {};
  }
}

async function main(): Promise<void> {
  const names = process.argv.slice(2);
  const unknown = names.filter((n) => !(n in SCENARIOS));
  if (unknown.length > 0) {
    process.stderr.write(`unknown scenario(s): ${unknown.join(', ')}; known: ${Object.keys(SCENARIOS).join(', ')}\n`);
    process.exit(2);
  }
  const results = readLatest();
  for (const name of names.length > 0 ? names : Object.keys(SCENARIOS)) {
    process.stderr.write(`── ${name}\n`);
    const scenario = SCENARIOS[name];
    if (!scenario) continue;
    results[name] = await scenario();
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(LATEST, `${JSON.stringify(results, null, 2)}\n`);
    console.table(results[name]);
  }
}

await main();
