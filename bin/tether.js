#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx, so `npx tether` needs no build step.
import { register } from 'tsx/esm/api';

register();
const { runTetherCli } = await import('../cli/main.ts');
await runTetherCli(process.argv);
