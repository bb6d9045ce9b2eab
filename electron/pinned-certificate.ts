import { createHash, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';

/** The part of Electron's `Certificate` used here: PEM data and the issuer the server sent. */
export interface CertificateLike {
  readonly data: string;
  readonly issuerCert?: CertificateLike | undefined;
}

/** A backend sends two certificates (its own, then the CA); anything much longer is not one of ours. */
const MAX_CHAIN_LENGTH = 8;
const SERVER_AUTH_OID = '1.3.6.1.5.5.7.3.1';

/** `sha256:<hex>` of the certificate's SubjectPublicKeyInfo: the form of the backend's CA pin. */
export function spkiPin(cert: X509Certificate): string {
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

/**
 * True when the server certificate chains to the CA with `pin` and is good for `hostname`
 * now. Used instead of the system's roots for the console's backend, whose CA no system knows.
 *
 * The CA also issues device certificates, so a chain to it is not enough: the leaf must be a
 * TLS server certificate for this host name, within its validity dates. The backend must send
 * its CA certificate after its own.
 */
export function isPinnedServerCertificate(
  request: { readonly hostname: string; readonly certificate: CertificateLike },
  pin: string,
  now: number = Date.now(),
): boolean {
  let chain: X509Certificate[];
  try {
    chain = chainOf(request.certificate);
  } catch {
    return false;
  }
  const [leaf, ...issuers] = chain;
  if (leaf === undefined) return false;
  const ca = issuers.find((cert) => spkiPin(cert) === pin);
  if (ca === undefined || !ca.ca) return false;
  if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) return false;
  if (now < Date.parse(leaf.validFrom) || now > Date.parse(leaf.validTo)) return false;
  // Node 20 names the extended key usages `keyUsage`; undefined means the certificate has none (any use).
  const extendedKeyUsage: readonly string[] | undefined = leaf.keyUsage;
  if (extendedKeyUsage !== undefined && !extendedKeyUsage.includes(SERVER_AUTH_OID)) return false;
  const host = request.hostname.replace(/^\[(.*)\]$/, '$1');
  return isIP(host) === 0 ? leaf.checkHost(host, { subject: 'never' }) !== undefined : leaf.checkIP(host) !== undefined;
}

function chainOf(certificate: CertificateLike): X509Certificate[] {
  const chain: X509Certificate[] = [];
  const seen = new Set<string>();
  let current: CertificateLike | undefined = certificate;
  while (current !== undefined && chain.length < MAX_CHAIN_LENGTH) {
    const cert = new X509Certificate(current.data);
    // A self-signed root may be linked to itself.
    if (seen.has(cert.fingerprint256)) break;
    seen.add(cert.fingerprint256);
    chain.push(cert);
    current = current.issuerCert;
  }
  return chain;
}

/** Chromium's answers to `setCertificateVerifyProc`: 0 accepts, -2 fails the connection. */
export const CERT_VERIFY_ACCEPT = 0;
export const CERT_VERIFY_REJECT = -2;

/**
 * The session's whole certificate policy. The desktop console talks to one backend, the active
 * profile's, so only that host is accepted and only with a chain to the profile's pinned CA;
 * every other host, and everything while no profile is active, is refused. The system's roots
 * are never consulted: a public CA cannot vouch for a self-hosted backend.
 */
export function verifyBackendCertificate(
  request: { readonly hostname: string; readonly certificate: CertificateLike },
  active: { readonly url: string; readonly caPin: string } | null,
  now: number = Date.now(),
): typeof CERT_VERIFY_ACCEPT | typeof CERT_VERIFY_REJECT {
  if (active === null) return CERT_VERIFY_REJECT;
  const backendHost = new URL(active.url).hostname.replace(/^\[(.*)\]$/, '$1');
  const host = request.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host.toLowerCase() !== backendHost.toLowerCase()) return CERT_VERIFY_REJECT;
  return isPinnedServerCertificate(request, active.caPin, now) ? CERT_VERIFY_ACCEPT : CERT_VERIFY_REJECT;
}
