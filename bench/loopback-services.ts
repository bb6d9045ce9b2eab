/**
 * The device's services for the `transfer` scenario's forward phases, in their own process like
 * a real service on the device's loopback: a TCP sink that reads until the client half-closes,
 * then answers the byte count as text and ends; and a TCP echo. Prints `{"sink":P,"echo":P}`.
 */
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';

const sink = createServer({ allowHalfOpen: true }, (socket) => {
  let bytes = 0;
  socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
  socket.on('end', () => socket.end(String(bytes)));
  socket.on('error', () => socket.destroy());
});
const echo = createServer((socket) => {
  socket.setNoDelay(true);
  socket.on('error', () => socket.destroy());
  socket.pipe(socket);
});

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

process.stdout.write(`${JSON.stringify({ sink: await listen(sink), echo: await listen(echo) })}\n`);
