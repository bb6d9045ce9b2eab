#!/usr/bin/env node
// `npm start`: the whole stack on this machine (ARCHITECTURE §9). Logic lives in start.ts.
import { register } from 'tsx/esm/api';

register();
const { runStart } = await import('./start.ts');
await runStart(process.argv.slice(2));
