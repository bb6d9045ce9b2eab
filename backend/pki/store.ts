import { createPrivateKey, createPublicKey, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import { caPin } from '../../channel/pin.js';
import { createCa, type CertifiedKey } from './ca.js';
import { issueIdentityCert, issueServerCert, SERVER_CERT_COMMON_NAME, serverCertNames } from './issue.js';

/**
 * The backend's keys and certificates.
 *
 * Serve TLS with `cert: server.certPem + ca.certPem` (leaf, then CA): agents enrolling with
 * `fetchPinnedCa` find the pinned CA only in the chain the server sends.
 */
export interface Pki {
  ca: CertifiedKey;
  /** TLS server certificate: issued by `ca`, or supplied by the admin (then used as it is). */
  server: CertifiedKey;
  /** Signs control-channel handshakes; issued by `ca`. */
  identity: CertifiedKey;
  /** `sha256:<hex>` of the CA's SubjectPublicKeyInfo: what agents and desktop profiles pin. */
  caPin: string;
}

/** The files under `<home>/pki/`. Keys are PKCS#8 PEM, mode 0600; certificates PEM, 0644. */
export const PKI_FILES = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  serverCert: 'server.crt',
  serverKey: 'server.key',
  identityCert: 'identity.crt',
  identityKey: 'identity.key',
} as const;

const DIR_MODE = 0o700;
const KEY_MODE = 0o600;
const CERT_MODE = 0o644;
/** Certificates we issued are renewed at start when they expire within this window. */
const RENEW_BEFORE_MS = 30 * 24 * 60 * 60 * 1000;

/** The directory {@link loadOrCreatePki} keeps its files in. */
export function pkiDir(home: string): string {
  return path.join(home, 'pki');
}

/**
 * Loads the PKI under `<home>/pki/`, creating what is missing.
 *
 * - The CA is created once and never replaced: its pin is what every device trusts. A CA
 *   certificate without its key is an error, not a reason to start a new CA.
 * - The server certificate is reissued (same CA) when it does not cover one of `hostnames`,
 *   expires within 30 days, does not match its key, or was issued by an earlier CA. A server
 *   certificate with another subject than ours (CN=tether-backend) that the CA did not issue
 *   was supplied by the admin and is used as it is, whatever names it covers.
 * - The identity certificate is reissued on the same conditions, except hostnames.
 *
 * Each file is written atomically (temporary file, fsync, rename), the key of a pair before
 * its certificate, so an interrupted start leaves a state the next start repairs.
 * Throws TetherError BAD_REQUEST for a host name that is neither a DNS name nor an IP address.
 */
export async function loadOrCreatePki(home: string, hostnames: string[], now: Date = new Date()): Promise<Pki> {
  const names = serverCertNames(hostnames);
  const dir = pkiDir(home);
  await mkdir(dir, { recursive: true, mode: DIR_MODE });
  await chmod(dir, DIR_MODE);

  const ca = await loadOrCreateCa(dir);
  const caX509 = new X509Certificate(ca.certPem);
  const server = await loadOrIssue(dir, 'server', caX509, now, names, () => issueServerCert(ca, names));
  const identity = await loadOrIssue(dir, 'identity', caX509, now, [], () => issueIdentityCert(ca));
  return { ca, server, identity, caPin: caPin(ca.certPem) };
}

async function loadOrCreateCa(dir: string): Promise<CertifiedKey> {
  const certFile = path.join(dir, PKI_FILES.caCert);
  const keyFile = path.join(dir, PKI_FILES.caKey);
  const certPem = await readIfExists(certFile);
  if (certPem === undefined) {
    // A ca.key without ca.crt is left from an interrupted first start: its pin was never shown.
    const ca = await createCa();
    await writeFileAtomic(keyFile, ca.keyPem, KEY_MODE);
    await writeFileAtomic(certFile, ca.certPem, CERT_MODE);
    await syncDir(dir);
    return ca;
  }
  const keyPem = await readIfExists(keyFile);
  if (keyPem === undefined) {
    throw new Error(
      `${certFile} exists but ${keyFile} is missing: restore the CA key from a backup. ` +
        `Removing ${certFile} creates a new CA, and every device and console must then trust its new pin.`,
    );
  }
  const cert = parseCertificate(certPem, certFile);
  if (!cert.ca) throw new Error(`${certFile} is not a CA certificate`);
  if (!keyMatches(cert, parsePrivateKey(keyPem, keyFile))) {
    throw new Error(`${keyFile} is not the private key of ${certFile}`);
  }
  return { certPem, keyPem };
}

async function loadOrIssue(
  dir: string,
  base: 'server' | 'identity',
  caX509: X509Certificate,
  now: Date,
  names: readonly string[],
  issue: () => Promise<CertifiedKey>,
): Promise<CertifiedKey> {
  const certFile = path.join(dir, PKI_FILES[`${base}Cert`]);
  const keyFile = path.join(dir, PKI_FILES[`${base}Key`]);
  const certPem = await readIfExists(certFile);
  const keyPem = await readIfExists(keyFile);
  if (certPem !== undefined) {
    const cert = parseCertificate(certPem, certFile);
    const issuedByCa = isIssuedBy(cert, caX509);
    // Ours but from an earlier CA (the admin removed ca.*): reissue below. Identity keys are always ours.
    const suppliedByAdmin = !issuedByCa && base === 'server' && cert.subject !== `CN=${SERVER_CERT_COMMON_NAME}`;
    if (suppliedByAdmin) {
      // Theirs to renew, and not ours to overwrite.
      if (keyPem === undefined) throw new Error(`${certFile} was supplied without its key ${keyFile}`);
      if (!keyMatches(cert, parsePrivateKey(keyPem, keyFile))) {
        throw new Error(`${keyFile} is not the private key of ${certFile}`);
      }
      return { certPem, keyPem };
    }
    const stillGood =
      issuedByCa &&
      keyPem !== undefined &&
      keyMatches(cert, tryParsePrivateKey(keyPem)) &&
      names.every((name) => covers(cert, name)) &&
      Date.parse(cert.validTo) - now.getTime() > RENEW_BEFORE_MS;
    if (stillGood) return { certPem, keyPem };
  }
  const issued = await issue();
  await writeFileAtomic(keyFile, issued.keyPem, KEY_MODE);
  await writeFileAtomic(certFile, issued.certPem, CERT_MODE);
  await syncDir(dir);
  return issued;
}

function isIssuedBy(cert: X509Certificate, ca: X509Certificate): boolean {
  return cert.checkIssued(ca) && cert.verify(ca.publicKey);
}

function covers(cert: X509Certificate, name: string): boolean {
  return (isIP(name) === 0 ? cert.checkHost(name) : cert.checkIP(name)) !== undefined;
}

function keyMatches(cert: X509Certificate, key: KeyObject | undefined): boolean {
  if (key === undefined) return false;
  const spki = (k: KeyObject): Buffer => k.export({ type: 'spki', format: 'der' });
  return spki(createPublicKey(key)).equals(spki(cert.publicKey));
}

function parseCertificate(pem: string, file: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (cause) {
    throw new Error(`${file} is not a PEM certificate`, { cause });
  }
}

function parsePrivateKey(pem: string, file: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (cause) {
    throw new Error(`${file} is not an unencrypted PEM private key`, { cause });
  }
}

function tryParsePrivateKey(pem: string): KeyObject | undefined {
  try {
    return createPrivateKey(pem);
  } catch {
    return undefined;
  }
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Readers see the old file or the new one, never a part: write a sibling, fsync, rename over. */
async function writeFileAtomic(file: string, data: string, mode: number): Promise<void> {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const handle = await open(tmp, 'wx', mode);
    try {
      // The umask may have narrowed the mode open() applied; set it exactly.
      await handle.chmod(mode);
      await handle.writeFile(data, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

/** Makes the renames durable. Directories cannot be opened for fsync on Windows; skip there. */
async function syncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
