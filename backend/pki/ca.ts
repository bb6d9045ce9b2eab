import forge from 'node-forge';
import { generateRsaKeyPair } from './keys.js';
import { certificateToPem, commonName as commonNameField } from './pem.js';
import { randomSerialHex } from './serial.js';
import { rsaSha256Signer } from './signer.js';
import { setValidity } from './validity.js';

/** A certificate and its private key, both PEM (the key PKCS#8). */
export interface CertifiedKey {
  certPem: string;
  keyPem: string;
}

/** Creates the backend's self-signed root CA: RSA-3072, valid 10 years, allowed to sign end-entity certificates only. */
export async function createCa(commonName = 'Tether CA'): Promise<CertifiedKey> {
  const keys = await generateRsaKeyPair(3072);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
  cert.serialNumber = randomSerialHex();
  setValidity(cert, { years: 10 });
  const name = [commonNameField(commonName)];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    // pathLenConstraint 0: this CA never delegates to intermediate CAs.
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(rsaSha256Signer(keys.privateKeyPem), forge.md.sha256.create());
  return { certPem: certificateToPem(cert), keyPem: keys.privateKeyPem };
}
