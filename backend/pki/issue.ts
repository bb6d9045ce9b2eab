import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';
import { TetherError } from '../../protocol/errors.js';
import type { CertifiedKey } from './ca.js';
import { generateRsaKeyPair } from './keys.js';
import { certificateToPem, commonName as commonNameField } from './pem.js';
import { randomSerialHex } from './serial.js';
import { rsaSha256Signer } from './signer.js';
import { setValidity, type ValidityPeriod } from './validity.js';

/** Names every server certificate carries, so local tools and the desktop app always connect. */
const ALWAYS_SERVED_NAMES = ['localhost', '127.0.0.1', '::1'] as const;
/** The subject common name of every server certificate this CA issues. */
export const SERVER_CERT_COMMON_NAME = 'tether-backend';
/** Apple platforms refuse TLS server certificates valid longer than 825 days. */
const SERVER_CERT_DAYS = 825;
/** A real CSR is about 1 KiB; the bound keeps a hostile body from reaching the ASN.1 parser. */
const MAX_CSR_PEM_LENGTH = 16 * 1024;
const MIN_DEVICE_KEY_BITS = 2048;
// Larger keys only cost verification time; 8192 is already beyond what devices generate.
const MAX_DEVICE_KEY_BITS = 8192;
/** Upper bound of an X.520 commonName (RFC 5280 ub-common-name). */
const MAX_COMMON_NAME_LENGTH = 64;
const DNS_NAME = /^(\*\.)?[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

/** A device certificate issued from a CSR. */
export interface DeviceCert {
  certPem: string;
  /** Lower-case hex; `serial.toUpperCase()` equals `X509Certificate.serialNumber`. */
  serial: string;
  /** As `X509Certificate.fingerprint256` gives it: upper-case hex pairs joined by ':'. */
  fingerprint256: string;
}

/**
 * The names a server certificate for `hostnames` covers: lower-cased, without IPv6 brackets
 * or a trailing dot, deduplicated, plus localhost and the loopback addresses.
 * Throws TetherError BAD_REQUEST for a name that is neither an IP address nor a DNS name.
 */
export function serverCertNames(hostnames: readonly string[]): string[] {
  const names = new Set<string>();
  for (const raw of [...hostnames, ...ALWAYS_SERVED_NAMES]) {
    const name = raw.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
    if (isIP(name) === 0 && (name.length > 253 || !DNS_NAME.test(name))) {
      throw new TetherError('BAD_REQUEST', `Not a host name or IP address: ${JSON.stringify(raw)}`);
    }
    names.add(name);
  }
  return [...names];
}

/** Issues the backend's TLS server certificate (RSA-2048, 825 days) for `hostnames` plus localhost and loopback. */
export async function issueServerCert(ca: CertifiedKey, hostnames: readonly string[]): Promise<CertifiedKey> {
  const altNames = serverCertNames(hostnames).map((name) =>
    isIP(name) === 0 ? { type: 2, value: name } : { type: 7, ip: name },
  );
  const keys = await generateRsaKeyPair(2048);
  const certPem = signWithCa(ca, forge.pki.publicKeyFromPem(keys.publicKeyPem), SERVER_CERT_COMMON_NAME, { days: SERVER_CERT_DAYS }, [
    { name: 'basicConstraints', cA: false },
    // keyEncipherment: TLS 1.2 RSA key exchange still needs it.
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames },
  ]);
  return { certPem, keyPem: keys.privateKeyPem };
}

/** Issues the key the backend signs control-channel handshakes with (RSA-2048, 2 years). */
export async function issueIdentityCert(ca: CertifiedKey): Promise<CertifiedKey> {
  const keys = await generateRsaKeyPair(2048);
  const certPem = signWithCa(ca, forge.pki.publicKeyFromPem(keys.publicKeyPem), 'tether-backend-identity', { years: 2 }, [
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, critical: true },
  ]);
  return { certPem, keyPem: keys.privateKeyPem };
}

/**
 * Certifies the public key of a device's CSR as `deviceId` (client certificate, digitalSignature).
 *
 * Only the CSR's public key is used: the subject is always CN=deviceId, because the backend,
 * not the device, chooses the id, and no extension the CSR requests is copied.
 * Throws TetherError CSR_INVALID when the CSR does not parse, its signature does not verify,
 * or its key is not RSA with 2048–8192 bits.
 */
export function issueDeviceCert(ca: CertifiedKey, csrPem: string, deviceId: string, validityDays = 365): DeviceCert {
  if (deviceId.length === 0 || deviceId.length > MAX_COMMON_NAME_LENGTH) {
    throw new RangeError(`A device id must have 1 to ${MAX_COMMON_NAME_LENGTH} characters`);
  }
  if (!Number.isFinite(validityDays) || validityDays <= 0) {
    throw new RangeError('validityDays must be a positive number');
  }
  const publicKey = verifiedCsrPublicKey(csrPem);
  const certPem = signWithCa(ca, publicKey, deviceId, { days: validityDays }, [
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, critical: true },
    { name: 'extKeyUsage', clientAuth: true },
  ]);
  const x509 = new X509Certificate(certPem);
  return { certPem, serial: x509.serialNumber.toLowerCase(), fingerprint256: x509.fingerprint256 };
}

function verifiedCsrPublicKey(csrPem: string): forge.pki.rsa.PublicKey {
  if (typeof csrPem !== 'string' || csrPem.length > MAX_CSR_PEM_LENGTH) {
    throw new TetherError('CSR_INVALID');
  }
  let csr: forge.pki.CertificateSigningRequest;
  try {
    // Also throws for keys that are not RSA.
    csr = forge.pki.certificationRequestFromPem(csrPem);
  } catch (cause) {
    throw new TetherError('CSR_INVALID', undefined, { cause });
  }
  const key = csr.publicKey;
  if (key === null || !('n' in key)) {
    throw new TetherError('CSR_INVALID');
  }
  const bits = key.n.bitLength();
  // Checked before verify(): a huge modulus or exponent would make forge's verification take seconds.
  const exponentOk = key.e.bitLength() <= 32 && key.e.testBit(0) && key.e.bitLength() >= 2;
  if (bits < MIN_DEVICE_KEY_BITS || bits > MAX_DEVICE_KEY_BITS || !exponentOk) {
    throw new TetherError('CSR_INVALID', `The CSR key must be RSA with ${MIN_DEVICE_KEY_BITS} to ${MAX_DEVICE_KEY_BITS} bits`);
  }
  let verified: boolean;
  try {
    verified = csr.verify();
  } catch (cause) {
    throw new TetherError('CSR_INVALID', undefined, { cause });
  }
  if (!verified) {
    throw new TetherError('CSR_INVALID', 'The CSR signature does not verify');
  }
  return key;
}

function signWithCa(
  ca: CertifiedKey,
  publicKey: forge.pki.rsa.PublicKey,
  commonName: string,
  period: ValidityPeriod,
  extensions: object[],
): string {
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = randomSerialHex();
  setValidity(cert, period);
  cert.setSubject([commonNameField(commonName)]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    ...extensions,
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caKeyIdentifier(caCert) },
  ]);
  cert.sign(rsaSha256Signer(ca.keyPem), forge.md.sha256.create());
  return certificateToPem(cert);
}

/** The CA's own subjectKeyIdentifier, so chain builders can match issuer and child. */
function caKeyIdentifier(caCert: forge.pki.Certificate): forge.Bytes {
  const ext: unknown = caCert.getExtension('subjectKeyIdentifier');
  if (typeof ext === 'object' && ext !== null && 'subjectKeyIdentifier' in ext && typeof ext.subjectKeyIdentifier === 'string') {
    return forge.util.hexToBytes(ext.subjectKeyIdentifier);
  }
  return caCert.generateSubjectKeyIdentifier().getBytes();
}
