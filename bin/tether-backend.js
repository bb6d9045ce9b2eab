#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx, so `npx tether-backend` needs no build step.
import { register } from 'tsx/esm/api';

register();
const { runBackendCli } = await import('../backend/cli.ts');
await runBackendCli(process.argv);
