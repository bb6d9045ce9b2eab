import { connect, createServer, type Server } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, type CertifiedKey } from '../pki/ca.js';
import { issueServerCert } from '../pki/issue.js';
import { shareTicketKeys, TICKET_KEY_PERIOD_MS, ticketKeysFor } from './ticket-keys.js';

describe('shared TLS session-ticket keys', () => {
  let ca: CertifiedKey;
  let cert: CertifiedKey;
  const servers: Server[] = [];
  const stops: Array<() => void> = [];

  beforeAll(async () => {
    ca = await createCa('Ticket Test CA');
    cert = await issueServerCert(ca, ['localhost']);
  });

  afterAll(() => {
    for (const stop of stops) stop();
    for (const server of servers) server.close();
  });

  /** A TLS server with the keys of `secret` (none: Node's random ones), answering "ok". */
  async function serve(secret: string | null, now?: () => number): Promise<number> {
    const server = createServer({ key: cert.keyPem, cert: cert.certPem, minVersion: 'TLSv1.3' }, (socket) => socket.end('ok'));
    if (secret !== null) stops.push(shareTicketKeys(server, secret, now));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    return address.port;
  }

  /** Connects (resuming `session` when given); resolves whether it was resumed and the ticket it got. */
  function visit(port: number, session?: Buffer): Promise<{ reused: boolean; session: Buffer | undefined }> {
    return new Promise((resolve, reject) => {
      let ticket: Buffer | undefined;
      const socket = connect({ port, host: '127.0.0.1', servername: 'localhost', ca: ca.certPem, session, minVersion: 'TLSv1.3' });
      socket.on('session', (s: Buffer) => (ticket = s));
      socket.on('error', reject);
      socket.on('data', () => undefined);
      socket.on('end', () => resolve({ reused: socket.isSessionReused(), session: ticket }));
    });
  }

  it('a session from one node resumes on another with the same secret, and not on one with another secret', async () => {
    const [a, b, other] = [await serve('the cluster CA key'), await serve('the cluster CA key'), await serve('another CA key')];
    const first = await visit(a);
    expect(first.reused).toBe(false);
    expect(first.session).toBeDefined();
    expect((await visit(b, first.session)).reused).toBe(true);
    expect((await visit(other, first.session)).reused).toBe(false);
  });

  it('derives other keys each period, the same ones within a period', () => {
    const t = 10 * TICKET_KEY_PERIOD_MS;
    expect(ticketKeysFor('s', t)).toHaveLength(48);
    expect(ticketKeysFor('s', t).equals(ticketKeysFor('s', t + TICKET_KEY_PERIOD_MS - 1))).toBe(true);
    expect(ticketKeysFor('s', t).equals(ticketKeysFor('s', t + TICKET_KEY_PERIOD_MS))).toBe(false);
    expect(ticketKeysFor('s', t).equals(ticketKeysFor('t', t))).toBe(false);
  });
});
