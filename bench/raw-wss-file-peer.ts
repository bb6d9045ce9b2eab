/**
 * `raw-wss-file-peer.ts HOME`: the far end of the `transfer` scenario's raw baseline, in its own
 * process like the agent, over the backend's TLS certificate; the bench reaches it through the
 * plain wss relay of bench/raw-ws-echo.ts. A connection's first message (text) says what to do:
 * `{"op":"sink","path":P}` writes the file that follows to P (bench/raw-wss-file.ts) and answers
 * `{"done": bytes}` once it is fsynced; `{"op":"source","path":P}` sends P. Prints its port.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { join } from 'node:path';
import { WebSocketServer, type RawData } from 'ws';
import { z } from 'zod';
import { FILE_WINDOW_HIGH_BYTES } from '../protocol/index.js';
import { bytesOf, receiveFile, sendFile } from './raw-wss-file.js';

/**
 * Each end does as its Tether counterpart, the agent (agent/files/file-transfers.ts): it reads a
 * download 256 KB at a time and queues up to the flow-control window of an upload for the disk.
 */
const SOURCE_CHUNK_BYTES = 256 * 1024;
const SINK_QUEUE_BYTES = FILE_WINDOW_HIGH_BYTES;

const Command = z.discriminatedUnion('op', [
  z.object({ op: z.literal('sink'), path: z.string() }),
  z.object({ op: z.literal('source'), path: z.string() }),
]);

const home = process.argv[2] ?? '';
const server = createServer({ key: readFileSync(join(home, 'pki', 'server.key')), cert: readFileSync(join(home, 'pki', 'server.crt')) });
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.on('error', () => ws.terminate());
  ws.once('message', (data: RawData, isBinary: boolean) => {
    const command = isBinary ? null : Command.safeParse(JSON.parse(bytesOf(data).toString('utf8')));
    if (!command?.success) return void ws.close(1003, 'expected a command');
    const { op, path } = command.data;
    const done = op === 'sink' ? receiveFile(ws, path, SINK_QUEUE_BYTES).then((bytes) => ws.send(JSON.stringify({ done: bytes }))) : sendFile(ws, path, SOURCE_CHUNK_BYTES);
    done.catch((err: unknown) => {
      process.stderr.write(`raw-wss-file-peer: ${op} ${path}: ${err instanceof Error ? err.message : String(err)}\n`);
      ws.close(1011, 'failed');
    });
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${typeof address === 'object' && address ? address.port : 0}\n`);
});
