import type { Duplex } from 'node:stream';

/**
 * Sockets carrying a request body that may take longer than the server's requestTimeout (a file
 * upload): Node's request timer would cut them at 30 s whatever their progress, so the route that
 * reads such a body marks its socket and enforces its own idle bound instead. The headers
 * timeout (slowloris) still applies, since a socket is marked only once its handler runs.
 */
const longBodies = new WeakSet<Duplex>();

export function allowLongBody(socket: Duplex): void {
  longBodies.add(socket);
}

export function endLongBody(socket: Duplex): void {
  longBodies.delete(socket);
}

export function hasLongBody(socket: Duplex): boolean {
  return longBodies.has(socket);
}
