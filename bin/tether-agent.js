#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx, so `npx tether-agent` needs no build step.
import { register } from 'tsx/esm/api';

register();
const { runAgentCli } = await import('../agent/cli.ts');
await runAgentCli(process.argv);
