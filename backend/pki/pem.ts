import forge from 'node-forge';

/**
 * PEM of a forge certificate with LF line ends, as Node's `X509Certificate.toString()` and
 * OpenSSL write it (forge writes CRLF), so PEM strings from both sides compare equal.
 */
export function certificateToPem(cert: forge.pki.Certificate): string {
  return forge.pki.certificateToPem(cert).replace(/\r\n/g, '\n');
}

/**
 * A commonName attribute encoded as UTF8String (RFC 5280 §4.1.2.6). Forge defaults to
 * PrintableString, which cannot hold the `_` of device ids: strict parsers reject such names.
 */
export function commonName(value: string): forge.pki.CertificateField {
  // @types/node-forge types valueTagClass as asn1.Class, but forge reads it as an asn1.Type tag.
  const utf8Tag: number = forge.asn1.Type.UTF8;
  return { name: 'commonName', value, valueTagClass: utf8Tag };
}
