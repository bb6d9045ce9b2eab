import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { connect, type DetailedPeerCertificate } from 'node:tls';
import { CA_PIN_PATTERN } from '../protocol/api.js';
import { TetherError } from '../protocol/errors.js';
import { caPin } from './pin.js';

const DEFAULT_HTTPS_PORT = 443;
/** A backend sends two certificates (leaf, CA); anything much longer is not one of ours. */
const MAX_CHAIN_LENGTH = 8;
const SERVER_AUTH_OID = '1.3.6.1.5.5.7.3.1';

interface Target {
  host: string;
  port: number;
}

/**
 * Trust on first use, checked against a pin (the agent's enrolment and the operators' CLI): connects to the backend, finds the CA whose
 * `caPin()` is `pin` in the certificate chain the backend sends, checks that the backend's
 * own certificate is a TLS server certificate issued and signed by that CA, and returns the
 * CA certificate as PEM (LF line ends) for later connections to trust (`ca:`).
 *
 * Only the TLS handshake happens: nothing is sent to the backend before the check, and the
 * connection is closed after it. The backend must serve its chain (leaf then CA). Host name
 * and validity dates are left to those later connections, which verify them with the CA.
 *
 * Throws TetherError BAD_REQUEST for a URL that is not https:// or wss:// or a pin that is
 * not `sha256:<64 hex>`, CA_PIN_MISMATCH when the chain does not check out against the pin,
 * and BACKEND_UNREACHABLE when no TLS handshake completes within `timeoutMs`.
 */
export async function fetchPinnedCa(backendUrl: string, pin: string, timeoutMs = 10_000): Promise<string> {
  const target = parseBackendUrl(backendUrl);
  if (!CA_PIN_PATTERN.test(pin)) {
    throw new TetherError('BAD_REQUEST', `A CA pin looks like sha256:<64 lower-case hex digits>, not ${JSON.stringify(pin)}`);
  }
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError('timeoutMs must be a positive number');
  const chain = await fetchPeerChain(target, timeoutMs);
  return pinnedCaOf(chain, pin, target.host).toString();
}

function parseBackendUrl(backendUrl: string): Target {
  let url: URL;
  try {
    url = new URL(backendUrl);
  } catch {
    throw new TetherError('BAD_REQUEST', `Not a URL: ${JSON.stringify(backendUrl)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'wss:') {
    throw new TetherError('BAD_REQUEST', `The backend URL must be https://, not ${url.protocol}//`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new TetherError('BAD_REQUEST', `The backend URL has no host: ${JSON.stringify(backendUrl)}`);
  return { host, port: url.port === '' ? DEFAULT_HTTPS_PORT : Number(url.port) };
}

/** The certificates the backend presents, leaf first, as Node ordered them by issuer. */
function fetchPeerChain({ host, port }: Target, timeoutMs: number): Promise<X509Certificate[]> {
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  return new Promise((resolve, reject) => {
    // The chain is checked against the pin below, instead of against the system's CAs.
    const socket = connect({ host, port, rejectUnauthorized: false, ...(isIP(host) === 0 ? { servername: host } : {}) });
    const timer = setTimeout(() => {
      socket.destroy(new TetherError('BACKEND_UNREACHABLE', `The backend at ${where} did not complete a TLS handshake within ${timeoutMs} ms`));
    }, timeoutMs);
    const fail = (error: Error): void => {
      clearTimeout(timer);
      reject(
        error instanceof TetherError
          ? error
          : new TetherError('BACKEND_UNREACHABLE', `The backend at ${where} cannot be reached over TLS: ${error.message}`, { cause: error }),
      );
    };
    socket.once('error', fail);
    socket.once('close', () => fail(new Error('the connection closed during the TLS handshake')));
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('close');
      let chain: X509Certificate[];
      try {
        chain = peerChain(socket.getPeerCertificate(true));
      } catch (cause) {
        socket.destroy();
        reject(new TetherError('CA_PIN_MISMATCH', `The backend at ${where} presented a certificate that does not parse`, { cause }));
        return;
      }
      // Keep an 'error' listener: a reset while closing must not become an uncaught exception.
      socket.on('error', () => undefined);
      socket.destroy();
      resolve(chain);
    });
  });
}

function peerChain(leaf: DetailedPeerCertificate): X509Certificate[] {
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

/**
 * The CA in `chain` (leaf first) whose pin is `pin`, after checking that the leaf is a TLS server
 * certificate it issued and signed; CA_PIN_MISMATCH otherwise. `host` names the backend in errors.
 */
export function pinnedCaOf(chain: readonly X509Certificate[], pin: string, host: string): X509Certificate {
  const leaf = chain[0];
  if (leaf === undefined) throw new TetherError('CA_PIN_MISMATCH', `The backend at ${host} presented no certificate`);
  const pins = chain.map((cert) => caPin(cert.toString()));
  const ca = chain[pins.indexOf(pin)];
  if (ca === undefined) {
    const seen = chain.map((cert, i) => `${pins[i] ?? ''} (${cert.subject.replace(/\n/g, ', ')})`).join('; ');
    throw new TetherError(
      'CA_PIN_MISMATCH',
      `No certificate the backend presented has the pin ${pin}. It presented: ${seen}. ` +
        'Check the pin with `tether-backend ca pin`, and that the backend serves its CA certificate after its own.',
    );
  }
  if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) {
    throw new TetherError('CA_PIN_MISMATCH', `The backend's certificate (${leaf.subject}) is not signed by the CA with the pin ${pin}`);
  }
  // A device certificate from the same CA must not pass for the backend. Node 20 names the
  // extended key usages `keyUsage`; it is undefined when the certificate has none (any use).
  const extendedKeyUsage: readonly string[] | undefined = leaf.keyUsage;
  if (extendedKeyUsage !== undefined && !extendedKeyUsage.includes(SERVER_AUTH_OID)) {
    throw new TetherError('CA_PIN_MISMATCH', `The backend's certificate (${leaf.subject}) is not a TLS server certificate`);
  }
  return ca;
}
