/**
 * Test-only PKI: a CA that issues identity and device certificates shaped like the backend's
 * (backend/pki), built here because channel/ may not import backend/.
 */
import { generateKeyPair, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';

const generateKeyPairAsync = promisify(generateKeyPair);

/** A certificate and its PKCS#8 private key, both PEM. */
export interface TestCertifiedKey {
  certPem: string;
  keyPem: string;
}

export interface IssueOptions {
  /** Certify this key instead of a fresh one (e.g. to give two certificates the same key). */
  keyPem?: string;
  notBefore?: Date;
  notAfter?: Date;
  /** IP addresses the certificate is for (subjectAltName), e.g. a test server on 127.0.0.1. */
  ipAddresses?: string[];
}

export interface TestCa extends TestCertifiedKey {
  issue(commonName: string, options?: IssueOptions): Promise<TestCertifiedKey>;
}

/** An RSA-2048 key pair as PEM (SPKI / PKCS#8), generated natively. */
export async function rsaKeyPem(): Promise<{ publicKeyPem: string; privateKeyPem: string }> {
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}

/** A device id as the backend makes them: `dev_` + 24 lower-case alphanumerics. */
export function randomDeviceId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return `dev_${[...randomBytes(24)].map((b) => alphabet[b % alphabet.length]).join('')}`;
}

function serialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) % 0x7f) + 1;
  return bytes.toString('hex');
}

function defaultValidity(): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  return { notBefore: new Date(now - 60_000), notAfter: new Date(now + 365 * 86_400_000) };
}

/** A self-signed test CA with the backend CA's extensions. */
export async function createTestCa(commonName = 'Tether Test CA'): Promise<TestCa> {
  const keys = await rsaKeyPem();
  const caKey = forge.pki.privateKeyFromPem(keys.privateKeyPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
  cert.serialNumber = serialHex();
  const validity = defaultValidity();
  cert.validity.notBefore = validity.notBefore;
  cert.validity.notAfter = validity.notAfter;
  const name = [{ name: 'commonName', value: commonName }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  const caCert = cert;

  async function issue(cn: string, options: IssueOptions = {}): Promise<TestCertifiedKey> {
    let keyPem = options.keyPem;
    let publicKey: forge.pki.PublicKey;
    if (keyPem === undefined) {
      const fresh = await rsaKeyPem();
      keyPem = fresh.privateKeyPem;
      publicKey = forge.pki.publicKeyFromPem(fresh.publicKeyPem);
    } else {
      const priv = forge.pki.privateKeyFromPem(keyPem);
      publicKey = forge.pki.setRsaPublicKey(priv.n, priv.e);
    }
    const leaf = forge.pki.createCertificate();
    leaf.publicKey = publicKey;
    leaf.serialNumber = serialHex();
    const validity = defaultValidity();
    leaf.validity.notBefore = options.notBefore ?? validity.notBefore;
    leaf.validity.notAfter = options.notAfter ?? validity.notAfter;
    leaf.setSubject([{ name: 'commonName', value: cn }]);
    leaf.setIssuer(caCert.subject.attributes);
    leaf.setExtensions([
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'subjectKeyIdentifier' },
      ...(options.ipAddresses ? [{ name: 'subjectAltName', altNames: options.ipAddresses.map((ip) => ({ type: 7, ip })) }] : []),
    ]);
    leaf.sign(caKey, forge.md.sha256.create());
    return { certPem: forge.pki.certificateToPem(leaf), keyPem };
  }

  return { certPem: forge.pki.certificateToPem(caCert), keyPem: keys.privateKeyPem, issue };
}
