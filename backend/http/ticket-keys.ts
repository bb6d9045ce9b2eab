import { hkdfSync } from 'node:crypto';
import type { Server as TlsServer } from 'node:tls';

/** Session-ticket keys change every hour; a ticket from the previous hour means one full handshake. */
export const TICKET_KEY_PERIOD_MS = 3600_000;

/** The 48 bytes of TLS session-ticket keys for the period holding `at`, derived from `secret`. */
export function ticketKeysFor(secret: string, at: number): Buffer {
  const period = Math.floor(at / TICKET_KEY_PERIOD_MS);
  return Buffer.from(hkdfSync('sha256', secret, 'tether tls session tickets', `period ${period}`, 48));
}

/**
 * Gives `server` session-ticket keys derived from `secret` (the CA's private key, which every node
 * of a cluster has) instead of random ones per process, rotated every hour: an agent whose node
 * died (or restarted) resumes its TLS session on whichever node it reaches next, rather than
 * making every survivor do a full handshake for each device at once. TLS 1.3 resumes with a
 * fresh (EC)DHE exchange, so the keys do not give away past traffic. Returns the stop.
 */
export function shareTicketKeys(server: TlsServer, secret: string, now: () => number = Date.now): () => void {
  server.setTicketKeys(ticketKeysFor(secret, now()));
  const rotate = (): NodeJS.Timeout => setTimeout(() => {
    server.setTicketKeys(ticketKeysFor(secret, now()));
    timer = rotate();
  }, TICKET_KEY_PERIOD_MS - (now() % TICKET_KEY_PERIOD_MS) + 1_000).unref();
  let timer = rotate();
  return () => clearTimeout(timer);
}
