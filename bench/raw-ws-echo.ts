/**
 * Baselines in their own processes, over the same TLS as the backend: `raw-ws-echo.ts HOME` is a
 * plain wss echo (the floor of `rtt`); `raw-ws-echo.ts HOME UPSTREAM_PORT` a plain wss relay that
 * passes each connection's messages to a socket of its own on the echo at UPSTREAM_PORT and back
 * (with the echo, the floor of the shell's keystroke echo: the same hops, no PTY, no sealing).
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { join } from 'node:path';
import WebSocket, { WebSocketServer } from 'ws';

const home = process.argv[2] ?? '';
const upstream = process.argv[3];
const server = createServer({ key: readFileSync(join(home, 'pki', 'server.key')), cert: readFileSync(join(home, 'pki', 'server.crt')) });
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on('connection', (ws) => {
  if (upstream === undefined) {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    return;
  }
  const next = new WebSocket(`wss://127.0.0.1:${upstream}`, { ca: readFileSync(join(home, 'pki', 'ca.crt')), perMessageDeflate: false });
  // Messages that arrive before the upstream socket is open wait for it.
  const early: Array<[WebSocket.RawData, boolean]> = [];
  next.on('open', () => {
    for (const [data, isBinary] of early.splice(0)) next.send(data, { binary: isBinary });
  });
  next.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('message', (data, isBinary) => (next.readyState === WebSocket.OPEN ? next.send(data, { binary: isBinary }) : early.push([data, isBinary])));
  ws.on('close', () => next.close());
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${typeof address === 'object' && address ? address.port : 0}\n`);
});
