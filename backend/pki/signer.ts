import { constants, createPrivateKey, privateEncrypt } from 'node:crypto';
import forge from 'node-forge';

// DER prefix of DigestInfo{sha256, NULL}; RSASSA-PKCS1-v1_5 signs this prefix followed by the hash (RFC 8017 §9.2).
const SHA256_DIGEST_INFO_PREFIX = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/**
 * A forge RSA private key whose `sign` runs in native crypto, for `cert.sign(key, sha256)`.
 *
 * Forge's pure-JS RSA-3072 signature takes 60–90 ms; native takes ~2 ms, which keeps
 * device enrolment under its 50 ms budget. Forge still builds and encodes the certificate;
 * only the private-key operation moves. The PKCS#1 v1.5 signature is deterministic, so the
 * output is byte-for-byte what forge itself would produce.
 */
export function rsaSha256Signer(keyPem: string): forge.pki.rsa.PrivateKey {
  const nativeKey = createPrivateKey(keyPem);
  const forgeKey = forge.pki.privateKeyFromPem(keyPem);
  return Object.assign(forgeKey, {
    sign(md: forge.md.MessageDigest): forge.Bytes {
      if (md.algorithm !== 'sha256') {
        throw new Error(`rsaSha256Signer signs SHA-256 digests only, not ${md.algorithm}`);
      }
      const digest = Buffer.from(md.digest().getBytes(), 'binary');
      const digestInfo = Buffer.concat([SHA256_DIGEST_INFO_PREFIX, digest]);
      return privateEncrypt({ key: nativeKey, padding: constants.RSA_PKCS1_PADDING }, digestInfo).toString('binary');
    },
  });
}
