/**
 * `shell-cat-client.ts` (argument: JSON {url, caCertPem, token, deviceId, file, bytes}): the console
 * side of the `shell` scenario's throughput phase, in a process of its own like a real console. In
 * the bench's process it shared a heap of ~50 MB (the other scenarios' modules), which every
 * collection had to mark: its collections then cost more CPU than the backend's relaying, on the
 * same two cores. It opens a terminal, prints `ready` at the prompt, waits for a line on stdin,
 * runs `cat FILE`, and prints `{"sessionId","seconds"}` once BYTES arrived, acked as the console acks.
 */
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { z } from 'zod';
import { ShellClient } from '../test/shell-client.js';

const Args = z.object({ url: z.string(), caCertPem: z.string(), token: z.string(), deviceId: z.string(), file: z.string(), bytes: z.number() });
const args = Args.parse(JSON.parse(process.argv[2] ?? '{}'));
const term = await ShellClient.open(args, args.token, { deviceId: args.deviceId, cols: 120, rows: 40 });
await term.waitFor('$ ');
term.keepOutput = false;
process.stdout.write('ready\n');
await once(createInterface({ input: process.stdin }), 'line');
const start = term.received;
const t0 = performance.now();
term.type(`cat ${args.file}\r`);
await term.until(() => term.received - start >= args.bytes, 600_000, 'the file');
const seconds = (performance.now() - t0) / 1000;
process.stdout.write(`${JSON.stringify({ sessionId: term.sessionId, seconds })}\n`);
term.close();
process.exit(0);
