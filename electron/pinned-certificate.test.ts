import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { beforeAll, describe, expect, it } from 'vitest';
import { CERT_VERIFY_ACCEPT, CERT_VERIFY_REJECT, isPinnedServerCertificate, spkiPin, verifyBackendCertificate, type CertificateLike } from './pinned-certificate.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2030, 0, 15);

/** RSA keys from native crypto (fast), certificates from node-forge, as the backend makes them. */
function keyPair() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privateKey: forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
    publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()),
  };
}

type Keys = ReturnType<typeof keyPair>;

function certificate(options: {
  subject: string;
  keys: Keys;
  issuer?: { subject: string; keys: Keys };
  ca?: boolean;
  serverAuth?: boolean;
  clientAuth?: boolean;
  dns?: string[];
  ips?: string[];
  notAfter?: number;
}): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = options.keys.publicKey;
  cert.serialNumber = `01${Math.floor(Math.random() * 1e12).toString(16)}`;
  cert.validity.notBefore = new Date(NOW - DAY);
  cert.validity.notAfter = new Date(options.notAfter ?? NOW + 365 * DAY);
  cert.setSubject([{ name: 'commonName', value: options.subject }]);
  cert.setIssuer([{ name: 'commonName', value: options.issuer?.subject ?? options.subject }]);
  const extensions: object[] = [{ name: 'basicConstraints', cA: options.ca === true, critical: true }];
  if (options.serverAuth === true || options.clientAuth === true) {
    extensions.push({ name: 'extKeyUsage', serverAuth: options.serverAuth === true, clientAuth: options.clientAuth === true });
  }
  const altNames = [...(options.dns ?? []).map((value) => ({ type: 2, value })), ...(options.ips ?? []).map((ip) => ({ type: 7, ip }))];
  if (altNames.length > 0) extensions.push({ name: 'subjectAltName', altNames });
  cert.setExtensions(extensions);
  cert.sign((options.issuer?.keys ?? options.keys).privateKey, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

let caPem: string;
let pin: string;
let serverPem: string;
let devicePem: string;
let otherCaPem: string;
let foreignServerPem: string;
let expiredServerPem: string;

beforeAll(() => {
  const caKeys = keyPair();
  const ca = { subject: 'Tether CA', keys: caKeys };
  caPem = certificate({ ...ca, ca: true });
  pin = spkiPin(new X509Certificate(caPem));
  serverPem = certificate({ subject: 'backend', keys: keyPair(), issuer: ca, serverAuth: true, dns: ['fleet.example'], ips: ['127.0.0.1'] });
  devicePem = certificate({ subject: 'dev_aaaaaaaaaaaaaaaaaaaa', keys: keyPair(), issuer: ca, clientAuth: true, dns: ['fleet.example'] });
  expiredServerPem = certificate({ subject: 'backend', keys: keyPair(), issuer: ca, serverAuth: true, dns: ['fleet.example'], notAfter: NOW - 1 });
  const otherKeys = keyPair();
  const other = { subject: 'Tether CA', keys: otherKeys };
  otherCaPem = certificate({ ...other, ca: true });
  foreignServerPem = certificate({ subject: 'backend', keys: keyPair(), issuer: other, serverAuth: true, dns: ['fleet.example'] });
}, 60_000);

/** Electron's shape: the leaf, linked to each issuer the server sent. */
function chain(leaf: string, ...issuers: string[]): CertificateLike {
  return { data: leaf, issuerCert: issuers.reduceRight<CertificateLike | undefined>((issuerCert, data) => ({ data, issuerCert }), undefined) };
}

describe('isPinnedServerCertificate', () => {
  it('accepts the backend certificate signed by the pinned CA, by host name or IP', () => {
    expect(isPinnedServerCertificate({ hostname: 'fleet.example', certificate: chain(serverPem, caPem) }, pin, NOW)).toBe(true);
    expect(isPinnedServerCertificate({ hostname: '127.0.0.1', certificate: chain(serverPem, caPem) }, pin, NOW)).toBe(true);
  });

  it('copes with a root linked to itself', () => {
    const root: { data: string; issuerCert?: CertificateLike } = { data: caPem };
    root.issuerCert = root;
    expect(isPinnedServerCertificate({ hostname: 'fleet.example', certificate: { data: serverPem, issuerCert: root } }, pin, NOW)).toBe(true);
  });

  it.each([
    ['the CA is not sent', () => chain(serverPem), 'fleet.example'],
    ['another CA signed it', () => chain(foreignServerPem, otherCaPem), 'fleet.example'],
    ['another CA signed it but the pinned CA is appended', () => chain(foreignServerPem, caPem), 'fleet.example'],
    ['it is a device certificate from the same CA', () => chain(devicePem, caPem), 'fleet.example'],
    ['the host name differs', () => chain(serverPem, caPem), 'other.example'],
    ['it has expired', () => chain(expiredServerPem, caPem), 'fleet.example'],
    ['it does not parse', () => chain('garbage', caPem), 'fleet.example'],
  ])('refuses when %s', (_label, certificate, hostname) => {
    expect(isPinnedServerCertificate({ hostname, certificate: certificate() }, pin, NOW)).toBe(false);
  });

  it('refuses the right chain under another pin', () => {
    const otherPin = spkiPin(new X509Certificate(otherCaPem));
    expect(isPinnedServerCertificate({ hostname: 'fleet.example', certificate: chain(serverPem, caPem) }, otherPin, NOW)).toBe(false);
  });
});

describe('verifyBackendCertificate', () => {
  const profile = () => ({ url: 'https://fleet.example:8443', caPin: pin });

  it('accepts the active backend host with a chain to its pinned CA', () => {
    expect(verifyBackendCertificate({ hostname: 'fleet.example', certificate: chain(serverPem, caPem) }, profile(), NOW)).toBe(CERT_VERIFY_ACCEPT);
    expect(verifyBackendCertificate({ hostname: 'FLEET.example', certificate: chain(serverPem, caPem) }, profile(), NOW)).toBe(CERT_VERIFY_ACCEPT);
  });

  it('accepts an IP backend', () => {
    expect(verifyBackendCertificate({ hostname: '127.0.0.1', certificate: chain(serverPem, caPem) }, { url: 'https://127.0.0.1:8443', caPin: pin }, NOW)).toBe(CERT_VERIFY_ACCEPT);
  });

  it('refuses every other host, even with a certificate the pinned CA signed for it', () => {
    expect(verifyBackendCertificate({ hostname: '127.0.0.1', certificate: chain(serverPem, caPem) }, profile(), NOW)).toBe(CERT_VERIFY_REJECT);
    expect(verifyBackendCertificate({ hostname: 'www.google.com', certificate: chain(foreignServerPem, otherCaPem) }, profile(), NOW)).toBe(CERT_VERIFY_REJECT);
  });

  it('refuses the backend host when the chain does not reach the pin, and everything with no active profile', () => {
    expect(verifyBackendCertificate({ hostname: 'fleet.example', certificate: chain(foreignServerPem, otherCaPem) }, profile(), NOW)).toBe(CERT_VERIFY_REJECT);
    expect(verifyBackendCertificate({ hostname: 'fleet.example', certificate: chain(serverPem, caPem) }, null, NOW)).toBe(CERT_VERIFY_REJECT);
  });
});
