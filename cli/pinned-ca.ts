import { createHash, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { connect, type DetailedPeerCertificate } from 'node:tls';
import { CA_PIN_PATTERN } from '../protocol/index.js';
import { CliError } from './cli-error.js';

/*
 * The same check as the agent's enrolment (agent/enrol/pinned-ca.ts), which cli/ may not import:
 * the pin is sha256 of the CA certificate's SubjectPublicKeyInfo, found in the chain the backend
 * sends, and the backend's own certificate must be a TLS server certificate signed by that CA.
 */

const MAX_CHAIN_LENGTH = 8;
const SERVER_AUTH_OID = '1.3.6.1.5.5.7.3.1';

/** `sha256:<hex>` of a certificate's SPKI (DER). */
export function spkiPin(cert: X509Certificate): string {
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

/** The backend's URL as the CLI stores it: https origin only (wss:// is taken and turned into https://). */
export function backendOrigin(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw CliError.of('BAD_REQUEST', `Not a URL: ${JSON.stringify(raw)}`);
  }
  if (url.protocol === 'wss:') url.protocol = 'https:';
  if (url.protocol !== 'https:') throw CliError.of('BAD_REQUEST', `The backend URL must be https://, not ${url.protocol}//`);
  if (url.username !== '' || url.password !== '') throw CliError.of('BAD_REQUEST', 'The backend URL must not carry a user or password');
  return new URL(url.origin);
}

/**
 * Connects to the backend (TLS handshake only; nothing is sent), checks its chain against `pin`,
 * and returns the pinned CA certificate as PEM. CA_PIN_MISMATCH when the chain does not check
 * out, BACKEND_UNREACHABLE when no handshake completes in `timeoutMs`.
 */
export async function fetchPinnedCa(origin: URL, pin: string, timeoutMs = 10_000): Promise<string> {
  if (!CA_PIN_PATTERN.test(pin)) throw CliError.of('BAD_REQUEST', `A CA pin looks like sha256:<64 lower-case hex digits>, not ${JSON.stringify(pin)}`);
  const host = origin.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = origin.port === '' ? 443 : Number(origin.port);
  const chain = await peerChain(host, port, timeoutMs);
  return pinnedCaOf(chain, pin).toString();
}

function peerChain(host: string, port: number, timeoutMs: number): Promise<X509Certificate[]> {
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  return new Promise((resolve, reject) => {
    // Checked against the pin below instead of the system's CAs.
    const socket = connect({ host, port, rejectUnauthorized: false, ...(isIP(host) === 0 ? { servername: host } : {}) });
    const timer = setTimeout(() => socket.destroy(CliError.of('BACKEND_UNREACHABLE', `${where} did not complete a TLS handshake within ${timeoutMs} ms`)), timeoutMs);
    const fail = (error: Error): void => {
      clearTimeout(timer);
      reject(error instanceof CliError ? error : CliError.of('BACKEND_UNREACHABLE', `${where} cannot be reached over TLS: ${error.message}`));
    };
    socket.once('error', fail);
    socket.once('close', () => fail(new Error('the connection closed during the TLS handshake')));
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('close');
      socket.on('error', () => undefined);
      try {
        resolve(chainOf(socket.getPeerCertificate(true)));
      } catch {
        reject(CliError.of('CA_PIN_MISMATCH', `${where} presented a certificate that does not parse`));
      } finally {
        socket.destroy();
      }
    });
  });
}

function chainOf(leaf: DetailedPeerCertificate): X509Certificate[] {
  const chain: X509Certificate[] = [];
  const seen = new Set<string>();
  // Node links a self-signed root to itself, and gives `{}` when there is no certificate.
  let current: DetailedPeerCertificate | undefined = leaf;
  while (current !== undefined && Buffer.isBuffer(current.raw) && !seen.has(current.fingerprint256) && chain.length < MAX_CHAIN_LENGTH) {
    seen.add(current.fingerprint256);
    chain.push(new X509Certificate(current.raw));
    current = current.issuerCertificate;
  }
  return chain;
}

/** The certificate in `chain` (leaf first) whose pin is `pin`, once the leaf is shown to be its server certificate. */
export function pinnedCaOf(chain: readonly X509Certificate[], pin: string): X509Certificate {
  const leaf = chain[0];
  if (leaf === undefined) throw CliError.of('CA_PIN_MISMATCH', 'The backend presented no certificate');
  const pins = chain.map(spkiPin);
  const ca = chain[pins.indexOf(pin)];
  if (ca === undefined) {
    throw CliError.of('CA_PIN_MISMATCH', `No certificate the backend presented has the pin ${pin} (it presented ${pins.join(', ')}); check the pin with \`tether-backend ca pin\``);
  }
  if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) throw CliError.of('CA_PIN_MISMATCH', `The backend's certificate is not signed by the CA with the pin ${pin}`);
  // A device certificate from the same CA must not pass for the backend.
  const extendedKeyUsage: readonly string[] | undefined = leaf.keyUsage;
  if (extendedKeyUsage !== undefined && !extendedKeyUsage.includes(SERVER_AUTH_OID)) {
    throw CliError.of('CA_PIN_MISMATCH', "The backend's certificate is not a TLS server certificate");
  }
  return ca;
}
