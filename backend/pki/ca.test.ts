import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCa, type CertifiedKey } from './ca.js';

describe('createCa', () => {
  let ca: CertifiedKey;
  let x509: X509Certificate;
  beforeAll(async () => {
    ca = await createCa('Test Fleet CA');
    x509 = new X509Certificate(ca.certPem);
  });

  it('is a self-signed RSA-3072 CA whose key is the PKCS#8 private key returned', () => {
    expect(x509.ca).toBe(true);
    expect(x509.subject).toBe('CN=Test Fleet CA');
    expect(x509.issuer).toBe(x509.subject);
    expect(x509.checkIssued(x509)).toBe(true);
    expect(x509.verify(x509.publicKey)).toBe(true);
    expect(x509.publicKey.asymmetricKeyType).toBe('rsa');
    expect(x509.publicKey.asymmetricKeyDetails?.modulusLength).toBe(3072);
    expect(ca.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const derived = createPublicKey(createPrivateKey(ca.keyPem)).export({ type: 'spki', format: 'der' });
    expect(derived.equals(x509.publicKey.export({ type: 'spki', format: 'der' }))).toBe(true);
  });

  it('is valid for 10 years, from a few minutes ago', () => {
    const from = Date.parse(x509.validFrom);
    const to = Date.parse(x509.validTo);
    expect(from).toBeLessThanOrEqual(Date.now());
    expect(from).toBeGreaterThan(Date.now() - 10 * 60 * 1000);
    const years = (to - from) / (365.25 * 24 * 60 * 60 * 1000);
    expect(years).toBeGreaterThan(9.99);
    expect(years).toBeLessThan(10.01);
  });

  it('may sign end-entity certificates only (critical basicConstraints with pathLen 0, keyCertSign)', () => {
    const cert = forge.pki.certificateFromPem(ca.certPem);
    expect(cert.getExtension('basicConstraints')).toMatchObject({ cA: true, pathLenConstraint: 0, critical: true });
    expect(cert.getExtension('keyUsage')).toMatchObject({ keyCertSign: true, cRLSign: true, digitalSignature: false, critical: true });
    expect(cert.getExtension('subjectKeyIdentifier')).toBeTruthy();
    expect(cert.siginfo.algorithmOid).toBe(forge.pki.oids['sha256WithRSAEncryption']);
  });

  it('writes PEM with LF line ends, byte-identical to what Node writes', () => {
    expect(ca.certPem).not.toContain('\r');
    expect(ca.certPem).toBe(x509.toString());
  });

  it('defaults the name to "Tether CA" and gives each CA its own key and serial', async () => {
    const other = new X509Certificate((await createCa()).certPem);
    expect(other.subject).toBe('CN=Tether CA');
    expect(other.serialNumber).not.toBe(x509.serialNumber);
    expect(other.publicKey.equals(x509.publicKey)).toBe(false);
  });
});
