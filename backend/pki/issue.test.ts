import { createPrivateKey, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { beforeAll, describe, expect, it } from 'vitest';
import { TetherError, type ErrorCode } from '../../protocol/errors.js';
import { createCa, type CertifiedKey } from './ca.js';
import { issueDeviceCert, issueIdentityCert, issueServerCert, serverCertNames } from './issue.js';
import { generateRsaKeyPair, type RsaKeyPairPem } from './keys.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const UTF8_STRING = 12;

// Made with `openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -subj /CN=ec-device`: forge cannot make EC CSRs.
const EC_CSR_PEM = `-----BEGIN CERTIFICATE REQUEST-----
MIHOMHYCAQAwFDESMBAGA1UEAwwJZWMtZGV2aWNlMFkwEwYHKoZIzj0CAQYIKoZI
zj0DAQcDQgAE/ctGDXlWu+dPkC+aQ7uimShvzZF5equzPJfR/WV74RHy2gDJH2sH
ax4WQ/eATjNArdD26cy0RaAfE/ByXPzY1aAAMAoGCCqGSM49BAMCA0gAMEUCIQC9
43UaerlRFZdlJnLzl9Jk9CEBD9+BOxv58DX4GI3/fgIgWAwavV3L+2Ywp1INKFju
fYJ7v9huAbW6Cj/bKVoWKzo=
-----END CERTIFICATE REQUEST-----
`;

/** A CSR for `subjectKey`, signed by `signingKey` (the same key for a valid CSR). */
function makeCsr(subjectKey: RsaKeyPairPem, signingKey: RsaKeyPairPem = subjectKey, extensions: object[] = []): string {
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(subjectKey.publicKeyPem);
  csr.setSubject([{ name: 'commonName', value: 'chosen-by-the-device' }]);
  if (extensions.length > 0) csr.setAttributes([{ name: 'extensionRequest', extensions }]);
  csr.sign(forge.pki.privateKeyFromPem(signingKey.privateKeyPem), forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr);
}

function codeOf(fn: () => unknown): ErrorCode | 'no error' | 'not a TetherError' {
  try {
    fn();
  } catch (error) {
    return error instanceof TetherError ? error.code : 'not a TetherError';
  }
  return 'no error';
}

let ca: CertifiedKey;
let caX509: X509Certificate;
let deviceKey: RsaKeyPairPem;
beforeAll(async () => {
  [ca, deviceKey] = await Promise.all([createCa(), generateRsaKeyPair(2048)]);
  caX509 = new X509Certificate(ca.certPem);
});

function expectIssuedByCa(x509: X509Certificate): void {
  expect(x509.checkIssued(caX509)).toBe(true);
  expect(x509.verify(caX509.publicKey)).toBe(true);
  expect(x509.issuer).toBe(caX509.subject);
  expect(x509.ca).toBe(false);
  // checkIssued also matches the certificate's authorityKeyIdentifier with the CA's subjectKeyIdentifier.
}

describe('serverCertNames', () => {
  it('normalises, deduplicates and always adds localhost and the loopback addresses', () => {
    expect(serverCertNames([' Fleet.Example.COM. ', 'fleet.example.com', '[2001:db8::1]', '10.0.0.5'])).toEqual([
      'fleet.example.com',
      '2001:db8::1',
      '10.0.0.5',
      'localhost',
      '127.0.0.1',
      '::1',
    ]);
    expect(serverCertNames([])).toEqual(['localhost', '127.0.0.1', '::1']);
  });

  it('rejects what is neither a DNS name nor an IP address with BAD_REQUEST', () => {
    for (const bad of ['', 'has space.example', 'https://x.example', 'a..b', `${'a'.repeat(64)}.example`, 'x/y']) {
      expect(codeOf(() => serverCertNames([bad])), bad).toBe('BAD_REQUEST');
    }
  });
});

describe('issueServerCert', () => {
  let server: CertifiedKey;
  let x509: X509Certificate;
  beforeAll(async () => {
    server = await issueServerCert(ca, ['Fleet.Example.com', '192.0.2.7']);
    x509 = new X509Certificate(server.certPem);
  });

  it('covers the configured names plus localhost, 127.0.0.1 and ::1', () => {
    expect(x509.subjectAltName?.split(', ')).toEqual([
      'DNS:fleet.example.com',
      'IP Address:192.0.2.7',
      'DNS:localhost',
      'IP Address:127.0.0.1',
      'IP Address:0:0:0:0:0:0:0:1',
    ]);
    expect(x509.checkHost('fleet.example.com')).toBe('fleet.example.com');
    expect(x509.checkHost('localhost')).toBe('localhost');
    expect(x509.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(x509.checkIP('::1')).toBe('::1');
    expect(x509.checkHost('other.example.com')).toBeUndefined();
  });

  it('is a TLS server certificate signed by the CA, valid 825 days, with the returned key', () => {
    expectIssuedByCa(x509);
    expect(x509.keyUsage).toEqual([SERVER_AUTH]);
    expect(x509.checkPrivateKey(createPrivateKey(server.keyPem))).toBe(true);
    const days = (Date.parse(x509.validTo) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(824.9);
    expect(days).toBeLessThanOrEqual(825);
  });

  it('rejects a bad host name with BAD_REQUEST before generating a key', async () => {
    await expect(issueServerCert(ca, ['not a host'])).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });
});

describe('issueIdentityCert', () => {
  it('certifies a signing key for the backend, signed by the CA, for 2 years', async () => {
    const identity = await issueIdentityCert(ca);
    const x509 = new X509Certificate(identity.certPem);
    expectIssuedByCa(x509);
    expect(x509.subject).toBe('CN=tether-backend-identity');
    expect(x509.checkPrivateKey(createPrivateKey(identity.keyPem))).toBe(true);
    const years = (Date.parse(x509.validTo) - Date.now()) / (365.25 * 86_400_000);
    expect(years).toBeGreaterThan(1.99);
    expect(years).toBeLessThan(2.01);
    const cert = forge.pki.certificateFromPem(identity.certPem);
    expect(cert.getExtension('keyUsage')).toMatchObject({ digitalSignature: true, keyCertSign: false });
  });
});

describe('issueDeviceCert', () => {
  it('names the device by the id the backend chose, whatever the CSR subject says', () => {
    const issued = issueDeviceCert(ca, makeCsr(deviceKey), 'dev_abc234');
    const x509 = new X509Certificate(issued.certPem);
    expect(x509.subject).toBe('CN=dev_abc234');
    // PrintableString cannot hold '_': the name must be a UTF8String.
    const cn = forge.pki.certificateFromPem(issued.certPem).subject.getField('CN') as { valueTagClass: number };
    expect(cn.valueTagClass).toBe(UTF8_STRING);
  });

  it('chains to the CA and certifies the CSR key for client authentication', () => {
    const issued = issueDeviceCert(ca, makeCsr(deviceKey), 'dev_chain');
    const x509 = new X509Certificate(issued.certPem);
    expectIssuedByCa(x509);
    expect(x509.keyUsage).toEqual([CLIENT_AUTH]);
    expect(x509.publicKey.export({ type: 'spki', format: 'pem' })).toBe(deviceKey.publicKeyPem);
    expect(x509.checkPrivateKey(createPrivateKey(deviceKey.privateKeyPem))).toBe(true);
  });

  it('reports the serial and SHA-256 fingerprint as Node reports them', () => {
    const issued = issueDeviceCert(ca, makeCsr(deviceKey), 'dev_serial');
    const x509 = new X509Certificate(issued.certPem);
    expect(issued.serial).toMatch(/^[0-9a-f]{32}$/);
    expect(issued.serial.toUpperCase()).toBe(x509.serialNumber);
    expect(issued.fingerprint256).toBe(x509.fingerprint256);
  });

  it('is valid for 365 days unless told otherwise', () => {
    const days = (x509: X509Certificate): number => (Date.parse(x509.validTo) - Date.now()) / 86_400_000;
    expect(days(new X509Certificate(issueDeviceCert(ca, makeCsr(deviceKey), 'dev_a').certPem))).toBeCloseTo(365, 1);
    expect(days(new X509Certificate(issueDeviceCert(ca, makeCsr(deviceKey), 'dev_b', 30).certPem))).toBeCloseTo(30, 1);
  });

  it('copies no extension the CSR asks for', () => {
    const csr = makeCsr(deviceKey, deviceKey, [
      { name: 'basicConstraints', cA: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'backend.example.com' }] },
      { name: 'extKeyUsage', serverAuth: true },
    ]);
    const x509 = new X509Certificate(issueDeviceCert(ca, csr, 'dev_ext').certPem);
    expect(x509.ca).toBe(false);
    expect(x509.subjectAltName).toBeUndefined();
    expect(x509.keyUsage).toEqual([CLIENT_AUTH]);
  });

  it('refuses a CSR that is not a CSR with CSR_INVALID', () => {
    const pemOfGarbage = `-----BEGIN CERTIFICATE REQUEST-----\n${Buffer.from('garbage').toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    for (const garbage of ['', 'garbage', pemOfGarbage, ca.certPem]) {
      expect(codeOf(() => issueDeviceCert(ca, garbage, 'dev_x'))).toBe('CSR_INVALID');
    }
    expect(codeOf(() => issueDeviceCert(ca, 42 as unknown as string, 'dev_x'))).toBe('CSR_INVALID');
  });

  it('refuses a CSR whose signature does not verify with CSR_INVALID', async () => {
    const otherKey = await generateRsaKeyPair(2048);
    expect(codeOf(() => issueDeviceCert(ca, makeCsr(deviceKey, otherKey), 'dev_x'))).toBe('CSR_INVALID');
  });

  it('refuses a CSR with a 1024-bit key with CSR_INVALID', async () => {
    const weakKey = await generateRsaKeyPair(1024);
    expect(codeOf(() => issueDeviceCert(ca, makeCsr(weakKey), 'dev_x'))).toBe('CSR_INVALID');
  });

  it('refuses a CSR with an EC key with CSR_INVALID', () => {
    expect(codeOf(() => issueDeviceCert(ca, EC_CSR_PEM, 'dev_x'))).toBe('CSR_INVALID');
  });

  it('refuses an oversized CSR with CSR_INVALID before parsing it', () => {
    const huge = makeCsr(deviceKey).replace('-----END', `${'A'.repeat(17 * 1024)}\n-----END`);
    expect(codeOf(() => issueDeviceCert(ca, huge, 'dev_x'))).toBe('CSR_INVALID');
  });

  it('refuses an empty or over-long device id and a non-positive validity', () => {
    const csr = makeCsr(deviceKey);
    expect(() => issueDeviceCert(ca, csr, '')).toThrow(RangeError);
    expect(() => issueDeviceCert(ca, csr, 'd'.repeat(65))).toThrow(RangeError);
    expect(() => issueDeviceCert(ca, csr, 'dev_x', 0)).toThrow(RangeError);
    expect(() => issueDeviceCert(ca, csr, 'dev_x', Number.NaN)).toThrow(RangeError);
  });
});
