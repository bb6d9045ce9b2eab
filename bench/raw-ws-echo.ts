/** The baseline of `rtt`: a plain WebSocket echo over the same TLS, in its own process like the backend. */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';

const home = process.argv[2] ?? '';
const server = createServer({ key: readFileSync(join(home, 'pki', 'server.key')), cert: readFileSync(join(home, 'pki', 'server.crt')) });
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${typeof address === 'object' && address ? address.port : 0}\n`);
});
