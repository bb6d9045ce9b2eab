import { createHash, X509Certificate } from 'node:crypto';

/**
 * The CA pin agents and desktop profiles trust: `sha256:<hex>` of the CA certificate's
 * SubjectPublicKeyInfo. Pinning the key rather than the certificate survives a CA re-issue
 * with the same key.
 */
export function caPin(caCertPem: string): string {
  const spki = new X509Certificate(caCertPem).publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}
