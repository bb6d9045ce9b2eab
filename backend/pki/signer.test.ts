import { X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateRsaKeyPair, type RsaKeyPairPem } from './keys.js';
import { rsaSha256Signer } from './signer.js';

function unsignedCertificate(keys: RsaKeyPairPem): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date('2024-01-01T00:00:00Z');
  cert.validity.notAfter = new Date('2025-01-01T00:00:00Z');
  const name = [{ name: 'commonName', value: 'signer-test' }];
  cert.setSubject(name);
  cert.setIssuer(name);
  return cert;
}

describe('rsaSha256Signer', () => {
  let keys: RsaKeyPairPem;
  beforeAll(async () => {
    keys = await generateRsaKeyPair(2048);
  });

  it('produces byte for byte the signature forge itself produces', () => {
    const byForge = unsignedCertificate(keys);
    byForge.sign(forge.pki.privateKeyFromPem(keys.privateKeyPem), forge.md.sha256.create());
    const byNative = unsignedCertificate(keys);
    byNative.sign(rsaSha256Signer(keys.privateKeyPem), forge.md.sha256.create());

    expect(typeof byNative.signature).toBe('string');
    expect(byNative.signature).toBe(byForge.signature);
    expect(forge.pki.certificateToPem(byNative)).toBe(forge.pki.certificateToPem(byForge));
  });

  it('makes certificates that Node and forge both verify', () => {
    const cert = unsignedCertificate(keys);
    cert.sign(rsaSha256Signer(keys.privateKeyPem), forge.md.sha256.create());
    expect(cert.verify(cert)).toBe(true);
    const x509 = new X509Certificate(forge.pki.certificateToPem(cert));
    expect(x509.verify(x509.publicKey)).toBe(true);
  });

  it('refuses digests other than SHA-256 rather than mislabel them', () => {
    const cert = unsignedCertificate(keys);
    expect(() => cert.sign(rsaSha256Signer(keys.privateKeyPem), forge.md.sha1.create())).toThrow(/SHA-256 digests only/);
  });

  it('rejects a key that is not PEM', () => {
    expect(() => rsaSha256Signer('not a key')).toThrow();
  });
});
